# install.cmake — what `cmake --install` puts where, and the paths the `huginn` command is built to know.
#   bin/huginn, lib/libhuginn.a, include/huginn.h, lib/pkgconfig/huginn.pc,
#   share/huginn/models/default (the shipped model, so an installed `huginn run` works without -m).
# The command finds its default model at run time ($HUGINN_MODEL first; tools/cli.c cli_default_model):
# next to the executable (<exe>/../share/huginn/models/default, so a moved prefix still works), then
# the compile-time data directory, then the source tree it was built from (a build directory outside
# the sources, e.g. cmake -B /tmp/b, has no models/ beside it).
include(GNUInstallDirs)

find_package(Git QUIET)
set(HG_GIT_COMMIT "")
if(GIT_FOUND)
  execute_process(COMMAND ${GIT_EXECUTABLE} rev-parse --short HEAD WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
                  OUTPUT_VARIABLE HG_GIT_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
endif()
target_compile_definitions(huginn_cli PRIVATE
  HG_VERSION="${PROJECT_VERSION}" HG_GIT_COMMIT="${HG_GIT_COMMIT}"
  HG_DATA_DIR="${CMAKE_INSTALL_FULL_DATADIR}/huginn" HG_REL_DATA_DIR="${CMAKE_INSTALL_DATADIR}/huginn"
  HG_SOURCE_DIR="${CMAKE_SOURCE_DIR}")

configure_file(${CMAKE_SOURCE_DIR}/cmake/huginn.pc.in ${CMAKE_BINARY_DIR}/huginn.pc @ONLY)
install(TARGETS huginn_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS huginn ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${CMAKE_SOURCE_DIR}/include/huginn.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${CMAKE_BINARY_DIR}/huginn.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/models/default DESTINATION ${CMAKE_INSTALL_DATADIR}/huginn/models)
