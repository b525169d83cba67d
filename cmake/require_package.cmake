# gpool_require_package(NAME DEBIAN_PACKAGES... [CONFIG] [VERSION V])
#
# find_package(NAME) that, when the package is missing, stops the configure with one message
# naming the Debian packages to install, instead of CMake's generic search report. The README's
# commands install them (scripts/install-deps.sh); this is what a reader sees when something
# was installed by hand, or not at all.
function(gpool_require_package name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "CONFIG" "VERSION" "")
  set(mode)
  if(arg_CONFIG)
    set(mode CONFIG)
  endif()
  find_package(${name} ${arg_VERSION} ${mode} QUIET)
  if(NOT ${name}_FOUND)
    list(JOIN arg_UNPARSED_ARGUMENTS " " packages)
    message(FATAL_ERROR
            "${name} was not found: install the Debian package(s) ${packages}\n"
            "  apt-get install ${packages}\n"
            "(scripts/install-deps.sh build|test installs everything the build or the tests need)")
  endif()
endfunction()
