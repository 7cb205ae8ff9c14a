# Helpers shared by every module: one library per folder, one gtest binary per
# module, fuzz targets that replay their seeds under GCC.

set(IMGBATCH_WARNINGS -Wall -Wextra)
if(IMGBATCH_WERROR)
  list(APPEND IMGBATCH_WARNINGS -Werror)
endif()

if(IMGBATCH_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# libFuzzer builds (clang, -DIMGBATCH_LIBFUZZER=ON, usually with
# IMGBATCH_SANITIZE): every library gets coverage instrumentation, so that the
# fuzzers see which branches of the code under test an input reached.
if(IMGBATCH_LIBFUZZER)
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
if(IMGBATCH_SANITIZE AND CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  add_compile_options(-fsanitize-ignorelist=${PROJECT_SOURCE_DIR}/cmake/clang-sanitize-ignorelist.txt)
endif()

# imgbatch_library(NAME store SRCS a.cc b.cc DEPS PUBLIC x PRIVATE y)
function(imgbatch_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_library(imgbatch_${ARG_NAME} STATIC ${ARG_SRCS})
  add_library(imgbatch::${ARG_NAME} ALIAS imgbatch_${ARG_NAME})
  target_include_directories(imgbatch_${ARG_NAME} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_compile_options(imgbatch_${ARG_NAME} PRIVATE ${IMGBATCH_WARNINGS})
  if(ARG_DEPS)
    target_link_libraries(imgbatch_${ARG_NAME} ${ARG_DEPS})
  endif()
endfunction()

# imgbatch_test(NAME store_test SRCS x_test.cc DEPS imgbatch::store LABELS unit)
function(imgbatch_test)
  if(NOT BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_compile_options(${ARG_NAME} PRIVATE ${IMGBATCH_WARNINGS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  add_test(NAME ${ARG_NAME} COMMAND ${ARG_NAME} --gtest_color=no)
  set_tests_properties(${ARG_NAME} PROPERTIES LABELS "${ARG_LABELS}"
                       ENVIRONMENT "IMGBATCH_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()

# imgbatch_fuzzer(NAME sigv4_fuzzer SRCS sigv4_fuzzer.cc DEPS imgbatch::auth)
# Under clang with -DIMGBATCH_LIBFUZZER=ON it links libFuzzer; otherwise a
# standalone main replays fuzz/seeds/<NAME>/* so every seed is a regression test.
function(imgbatch_fuzzer)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_compile_options(${ARG_NAME} PRIVATE ${IMGBATCH_WARNINGS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
  if(IMGBATCH_LIBFUZZER)
    target_compile_options(${ARG_NAME} PRIVATE -fsanitize=fuzzer)
    target_link_options(${ARG_NAME} PRIVATE -fsanitize=fuzzer)
  else()
    target_sources(${ARG_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/fuzz/standalone_main.cc)
    add_test(NAME ${ARG_NAME}_replay COMMAND ${ARG_NAME} ${PROJECT_SOURCE_DIR}/fuzz/seeds/${ARG_NAME})
    set_tests_properties(${ARG_NAME}_replay PROPERTIES LABELS "unit;fuzz")
  endif()
endfunction()
