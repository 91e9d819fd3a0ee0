// One attribute for the few numeric loops that dominate kernel evaluation: vectorised clones for
// AVX-512 and AVX2 machines next to the SSE2 baseline, chosen once at load time by the CPU.
#pragma once

/// Put before a function whose loops should vectorise for the CPU it runs on.
/// The files using it are compiled with -ffp-contract=off (CMakeLists.txt), so
/// every clone performs the same IEEE operations and gives identical results:
/// wider vectors change the speed, never a number.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define TPC_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define TPC_VECTOR_CLONES
#endif
