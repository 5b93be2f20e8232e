# ctest install.consumer: installs the build into a fresh prefix, builds and runs
# tests/install_consumer against it (find_package(gpsx)), and runs the installed gpsx
# from another working directory. Arguments: BIN, SRC, WORK, LIBDIR, GENERATOR, CXX,
# LAUNCHER.
function(run)
  cmake_parse_arguments(A "" "DIR;EXPECT" "COMMAND" ${ARGN})
  execute_process(COMMAND ${A_COMMAND} WORKING_DIRECTORY ${A_DIR}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message("$ ${A_COMMAND}\n${out}${err}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (exit ${rc}): ${A_COMMAND}")
  endif()
  if(A_EXPECT AND NOT out MATCHES "${A_EXPECT}")
    message(FATAL_ERROR "output of ${A_COMMAND} does not match '${A_EXPECT}'")
  endif()
endfunction()

set(prefix ${WORK}/prefix)
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/run)
run(DIR ${WORK} COMMAND ${CMAKE_COMMAND} --install ${BIN} --prefix ${prefix})
foreach(f bin/gpsx include/gpsx/host/executor.h include/gpsx/envs/task.h
          include/gpsx/kernels/rigid_body.h include/gpsx/cuda/runtime.h
          share/gpsx/models/pointmass.yaml share/gpsx/experiments/reacher2.yaml
          ${LIBDIR}/cmake/gpsx/gpsxConfig.cmake
          ${LIBDIR}/cmake/gpsx/gpsxConfigVersion.cmake)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "not installed: ${prefix}/${f}")
  endif()
endforeach()

set(launcher)
if(LAUNCHER)
  set(launcher -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER})
endif()
run(DIR ${WORK} COMMAND ${CMAKE_COMMAND} -S ${SRC}/tests/install_consumer -B ${WORK}/build
    -G ${GENERATOR} -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=${CXX} ${launcher}
    -DCMAKE_PREFIX_PATH=${prefix})
run(DIR ${WORK} COMMAND ${CMAKE_COMMAND} --build ${WORK}/build)
run(DIR ${WORK}/run EXPECT "consumer: pointmass, 16 envs x 5 steps, 0 failed"
    COMMAND ${CMAKE_COMMAND} -E env GPSX_DATA_DIR=${prefix}/share/gpsx ${WORK}/build/consumer)

# the installed program finds its models beside itself, from any working directory
file(REAL_PATH ${prefix}/share/gpsx/models models)
run(DIR ${WORK}/run EXPECT "Models: ${models}\n"
    COMMAND ${CMAKE_COMMAND} -E env --unset=GPSX_DATA_DIR ${prefix}/bin/gpsx version)
run(DIR ${WORK}/run EXPECT "64 envs x 10 steps.*; 0 envs failed"
    COMMAND ${CMAKE_COMMAND} -E env --unset=GPSX_DATA_DIR
            ${prefix}/bin/gpsx --device cpu sim --env pointmass --envs 64 --steps 10)
