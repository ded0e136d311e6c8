/*
 * sqlrec.so on x86-64 Linux: picks the SqlRec build this CPU runs fastest and hands it the call.
 *
 * NativeAOT fixes the vector instructions when it compiles: a build for x86-64-v3 (AVX2, FMA) runs
 * the dense kernels 2-3x faster than one for x86-64-v2 (SSE4.2), but its runtime stops the whole
 * process at start-up on a CPU without AVX2, and an extension must never take its host down. So
 * the release carries both builds, sqlrec-x86-64-v3.so and sqlrec-x86-64-v2.so, and this file
 * (no runtime, no allocation beyond an error message) asks the CPU which one it can run, loads it
 * from its own folder and calls its sqlite3_sqlrec_init with the host's arguments.
 *
 * SQLREC_CPU=x86-64-v2 (or x86-64-v3) in the environment chooses the build instead; a level the CPU
 * lacks is refused with the reason, not loaded.
 *
 * Built by native/extension/SqlRec.Extension.csproj with the C compiler NativeAOT links with.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* sqlite3_api_routines.malloc, counted in pointers from the struct's start (sqlite3ext.h; the
 * struct only ever grows at its end). ExtensionTests compiles this file with
 * -DSQLREC_CHECK_OFFSETS against the real header, which asserts the number. */
#define SQLREC_MALLOC_INDEX 68

#ifdef SQLREC_CHECK_OFFSETS
#include <sqlite3ext.h>
#include <stddef.h>
_Static_assert(offsetof(sqlite3_api_routines, malloc) == SQLREC_MALLOC_INDEX * sizeof(void *),
               "SQLREC_MALLOC_INDEX is not the offset of sqlite3_api_routines.malloc");
#endif

#define SQLITE_ERROR 1

typedef int (*sqlrec_init)(void *db, char **error, const void *routines);

/* x86-64-v2: SSE3, SSSE3, SSE4.1, SSE4.2, POPCNT, CX16, LAHF. */
static int has_v2(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const unsigned leaf1 = (1u << 0) | (1u << 9) | (1u << 13) | (1u << 19) | (1u << 20) | (1u << 23);
    if ((c & leaf1) != leaf1) return 0;
    if (!__get_cpuid(0x80000001u, &a, &b, &c, &d)) return 0;
    return (c & 1u) != 0;
}

/* x86-64-v3: v2 plus AVX, AVX2, BMI1, BMI2, F16C, FMA, LZCNT, MOVBE, and the OS saving the AVX
 * registers (OSXSAVE with XCR0 bits 1 and 2). */
static int has_v3(void)
{
    unsigned a, b, c, d;
    if (!has_v2() || !__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const unsigned leaf1 = (1u << 12) | (1u << 22) | (1u << 27) | (1u << 28) | (1u << 29);
    if ((c & leaf1) != leaf1) return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 6u) != 6u) return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    const unsigned leaf7 = (1u << 3) | (1u << 5) | (1u << 8);
    if ((b & leaf7) != leaf7) return 0;
    if (!__get_cpuid(0x80000001u, &a, &b, &c, &d)) return 0;
    return (c & (1u << 5)) != 0;
}

/* The message goes to SQLite through the host's sqlite3_malloc, which SQLite frees. */
static int fail(char **error, const void *routines, const char *text)
{
    if (error && routines)
    {
        void *(*host_malloc)(int) = ((void *(*const *)(int))routines)[SQLREC_MALLOC_INDEX];
        size_t length = strlen(text);
        char *copy = host_malloc ? host_malloc((int)length + 1) : NULL;
        if (copy)
        {
            memcpy(copy, text, length + 1);
            *error = copy;
        }
    }
    return SQLITE_ERROR;
}

__attribute__((visibility("default")))
int sqlite3_sqlrec_init(void *db, char **error, const void *routines)
{
    static sqlrec_init chosen;
    char path[4096], message[4608];
    if (!chosen)
    {
        const char *level;
        const char *forced = getenv("SQLREC_CPU");
        if (forced && *forced)
        {
            if (strcmp(forced, "x86-64-v3") != 0 && strcmp(forced, "x86-64-v2") != 0)
                return fail(error, routines, "SQLREC_CPU must be x86-64-v2 or x86-64-v3 (or unset to let SqlRec choose)");
            if (strcmp(forced, "x86-64-v3") == 0 ? !has_v3() : !has_v2())
            {
                snprintf(message, sizeof message, "SQLREC_CPU=%s: this CPU does not support %s", forced, forced);
                return fail(error, routines, message);
            }
            level = forced;
        }
        else if (has_v3()) level = "x86-64-v3";
        else if (has_v2()) level = "x86-64-v2";
        else return fail(error, routines, "SqlRec needs an x86-64-v2 CPU (SSE4.2, POPCNT); this one lacks them");

        Dl_info self;
        if (!dladdr((void *)&sqlite3_sqlrec_init, &self) || !self.dli_fname)
            return fail(error, routines, "SqlRec could not find the folder sqlrec.so was loaded from");
        const char *slash = strrchr(self.dli_fname, '/');
        int folder = slash ? (int)(slash - self.dli_fname) : 1;
        if (snprintf(path, sizeof path, "%.*s/sqlrec-%s.so", folder, slash ? self.dli_fname : ".", level) >= (int)sizeof path)
            return fail(error, routines, "SqlRec's folder path is too long");
        void *build = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!build)
        {
            const char *why = dlerror();
            snprintf(message, sizeof message, "SqlRec could not load %s (it belongs beside sqlrec.so): %s", path, why ? why : "unknown error");
            return fail(error, routines, message);
        }
        sqlrec_init init = (sqlrec_init)dlsym(build, "sqlite3_sqlrec_init");
        if (!init)
            return fail(error, routines, "SqlRec's build has no sqlite3_sqlrec_init");
        chosen = init;
    }
    return chosen(db, error, routines);
}
