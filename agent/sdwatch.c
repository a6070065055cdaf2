/* The file_sd fingerprint (sdwatch.h). */
#include "build-config.h"

#include "sdwatch.h"

#include <glob.h>
#include <string.h>
#include <sys/stat.h>

#include "fnv.h"

uint64_t
sdwatch_fingerprint(const struct config *c)
{
    uint64_t h = FNV64_INIT; /* enough to tell two states of a few files apart */

    for (size_t j = 0; j < c->njobs; j++) {
        const struct config_job *sc = &c->jobs[j];
        for (size_t i = 0; i < sc->nfile_sd_globs; i++) {
            glob_t gl;
            h = fnv64(h, sc->file_sd_globs[i], strlen(sc->file_sd_globs[i]) + 1);
            if (glob(sc->file_sd_globs[i], 0, NULL, &gl) != 0) {
                continue; /* no match (yet), or an unreadable directory: no files */
            }
            for (size_t k = 0; k < gl.gl_pathc; k++) {
                struct stat st;
                h = fnv64(h, gl.gl_pathv[k], strlen(gl.gl_pathv[k]) + 1);
                if (stat(gl.gl_pathv[k], &st) == 0) {
                    int64_t v[4] = {(int64_t)st.st_size, (int64_t)st.st_mtim.tv_sec,
                                    (int64_t)st.st_mtim.tv_nsec, (int64_t)st.st_ino};
                    h = fnv64(h, v, sizeof(v));
                }
            }
            globfree(&gl);
        }
    }
    return h;
}

int64_t
sdwatch_period_ms(const struct config *c)
{
    int64_t p = 0;

    for (size_t j = 0; j < c->njobs; j++) {
        const struct config_job *sc = &c->jobs[j];
        if (sc->nfile_sd_globs > 0 && sc->file_sd_refresh_ms > 0 &&
            (p == 0 || sc->file_sd_refresh_ms < p)) {
            p = sc->file_sd_refresh_ms;
        }
    }
    return p;
}
