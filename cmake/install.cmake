# cmake --install BUILD --prefix P: the gpsx program (bin/), headers (include/gpsx/...),
# the static libraries with exported targets gpsx::... (find_package(gpsx)), and the
# shipped models and tasks (share/gpsx/models/) and experiment configs
# (share/gpsx/experiments/), found by an installed gpsx.
include(CMakePackageConfigHelpers)
set(GPSX_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/gpsx)

set(GPSX_EXPORTED gpsx_kernels gpsx_base gpsx_envs gpsx_algorithms)
if(GPSX_HAVE_CUDA)
  list(APPEND GPSX_EXPORTED gpsx_cuda)
endif()
install(TARGETS ${GPSX_EXPORTED} EXPORT gpsxTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS gpsx RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

foreach(dir kernels/gpsx host/gpsx envs/gpsx cuda/gpsx)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${dir} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
          FILES_MATCHING PATTERN "*.h" PATTERN "*.cuh")
endforeach()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/envs/models/ DESTINATION ${CMAKE_INSTALL_DATADIR}/gpsx/models)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/envs/experiments/
        DESTINATION ${CMAKE_INSTALL_DATADIR}/gpsx/experiments)

install(EXPORT gpsxTargets NAMESPACE gpsx:: DESTINATION ${GPSX_CMAKE_DIR})
# CUDA targets (cudart, cuBLAS, NVTX) in the exported interface need the toolkit's package
if(GPSX_HAVE_CUDA OR TARGET CUDA::nvtx3)
  set(GPSX_NEEDS_CUDATOOLKIT ON)
else()
  set(GPSX_NEEDS_CUDATOOLKIT OFF)
endif()
set(GPSX_DATA_INSTALL_DIR ${CMAKE_INSTALL_DATADIR}/gpsx)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/gpsxConfig.cmake.in
  ${PROJECT_BINARY_DIR}/gpsxConfig.cmake INSTALL_DESTINATION ${GPSX_CMAKE_DIR}
  PATH_VARS GPSX_DATA_INSTALL_DIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/gpsxConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/gpsxConfig.cmake ${PROJECT_BINARY_DIR}/gpsxConfigVersion.cmake
        DESTINATION ${GPSX_CMAKE_DIR})
