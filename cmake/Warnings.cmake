# Warnings for our own targets. MAILVAULT_WERROR (on in CI) turns them into errors.
option(MAILVAULT_WERROR "Treat compiler warnings as errors" OFF)

function(mailvault_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
                                           -Wnon-virtual-dtor -Wimplicit-fallthrough)
  if(MAILVAULT_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
