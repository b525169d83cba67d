# Links gRPC, protobuf, c-ares, re2 and Abseil statically into every gpool executable.
#
# Why: issue 6's W1 cold is a whole `gpool map` process. Linked against the shared libraries,
# a gpool process spends most of its start in the dynamic loader: 69 libraries (Debian splits
# Abseil into some 50), whose tens of thousands of symbol lookups each walk that whole list,
# at load time and again lazily at each first call, in every process, forked daemons
# included. `gpool --help`-like runs took 14.5 ms against 0.7 ms for /bin/true, and static
# linking halved the whole cold `gpool map` (see docs/performance.md). Debian ships the static
# archives in the same -dev packages, built position-independent.
#
# How: find_package() gave us imported targets that point at the .so files; this points the
# same targets at the .a files next to them, so every target_link_libraries() stays as it is.
# All or nothing: a process must not end up with two copies of Abseil (one static, one
# through a shared library), so a missing archive is a configure error, and OpenSSL and zlib
# (C libraries without Abseil) stay shared.
# Points `target`'s IMPORTED_LOCATION`suffix` at the static archive beside the shared library.
function(_gpool_use_archive target suffix)
  get_target_property(location ${target} IMPORTED_LOCATION${suffix})
  if(NOT location OR NOT location MATCHES "\\.so(\\.[0-9]+)*$")
    return()
  endif()
  string(REGEX REPLACE "\\.so(\\.[0-9]+)*$" ".a" archive "${location}")
  if(NOT EXISTS "${archive}")
    message(FATAL_ERROR
            "GPOOL_STATIC_DEPS: ${archive} (for ${target}) is missing; install the static "
            "libraries or configure with -DGPOOL_STATIC_DEPS=OFF")
  endif()
  set_target_properties(${target} PROPERTIES IMPORTED_LOCATION${suffix} "${archive}")
endfunction()

function(gpool_link_dependencies_statically)
  get_property(imported DIRECTORY PROPERTY IMPORTED_TARGETS)
  set(converted 0)
  foreach(target IN LISTS imported)
    if(NOT target MATCHES "^(absl::|gRPC::|protobuf::libprotobuf$|c-ares::|re2::)")
      continue()
    endif()
    get_target_property(type ${target} TYPE)
    if(type STREQUAL "INTERFACE_LIBRARY")
      # re2::re2 comes from pkg-config (gRPC's Findre2) as link flags: -L... -lre2.
      get_target_property(links ${target} INTERFACE_LINK_LIBRARIES)
      if(links AND "-lre2" IN_LIST links)
        find_library(GPOOL_RE2_ARCHIVE NAMES libre2.a REQUIRED)
        list(TRANSFORM links REPLACE "^-lre2$" "${GPOOL_RE2_ARCHIVE}")
        set_target_properties(${target} PROPERTIES INTERFACE_LINK_LIBRARIES "${links}")
        math(EXPR converted "${converted} + 1")
      endif()
      continue()
    endif()
    if(NOT type MATCHES "^(SHARED|UNKNOWN)_LIBRARY$")
      continue()
    endif()
    _gpool_use_archive(${target} "")
    get_target_property(configs ${target} IMPORTED_CONFIGURATIONS)
    if(configs)
      foreach(config IN LISTS configs)
        _gpool_use_archive(${target} "_${config}")
      endforeach()
    endif()
    math(EXPR converted "${converted} + 1")
  endforeach()
  message(STATUS "GPOOL_STATIC_DEPS: ${converted} imported libraries linked statically")
endfunction()
