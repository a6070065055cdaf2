/* The SD cache (sdcache.h). */
#include "build-config.h"

#include "sdcache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "config.h"

struct entry {
    char *key;  /* owned */
    char *text; /* owned, NUL-terminated */
    size_t len;
    struct entry *next;
};

static struct entry *entries;

static struct entry *
find(const char *key)
{
    for (struct entry *e = entries; e != NULL; e = e->next) {
        if (strcmp(e->key, key) == 0) {
            return e;
        }
    }
    return NULL;
}

/* Sets the memory copy of @key. 0 or -ENOMEM. */
static int
remember(const char *key, const char *text, size_t len)
{
    struct entry *e = find(key);
    char *copy = malloc(len + 1);

    if (copy == NULL) {
        return -ENOMEM;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    if (e == NULL) {
        e = calloc(1, sizeof(*e));
        if (e == NULL || (e->key = strdup(key)) == NULL) {
            free(e);
            free(copy);
            return -ENOMEM;
        }
        e->next = entries;
        entries = e;
    }
    free(e->text);
    e->text = copy;
    e->len = len;
    return 0;
}

const char *
sdcache_dir(const struct config *c)
{
    static char env_dir[4096];
    const char *s;

    if (c != NULL && c->global.state_dir != NULL) {
        return c->global.state_dir;
    }
    s = getenv("STATE_DIRECTORY");
    if (s == NULL || s[0] == '\0') {
        return NULL;
    }
    /* systemd lists several directories separated by ':'; the first is pollster's */
    snprintf(env_dir, sizeof(env_dir), "%.*s", (int)strcspn(s, ":"), s);
    return env_dir;
}

char *
sdcache_path_dup(const char *dir, const char *key)
{
    return conf_printf("%s/sd-%s.json", dir, key);
}

char *
sdcache_get_dup(const char *dir, const char *key, size_t *len, int *err)
{
    struct entry *e = find(key);
    char *path, *buf = NULL;
    int rc;

    if (err != NULL) {
        *err = 0;
    }
    if (e != NULL) {
        buf = malloc(e->len + 1);
        if (buf == NULL) {
            if (err != NULL) {
                *err = ENOMEM;
            }
            return NULL;
        }
        memcpy(buf, e->text, e->len + 1);
        *len = e->len;
        return buf;
    }
    if (dir == NULL) {
        return NULL;
    }
    path = sdcache_path_dup(dir, key);
    if (path == NULL) {
        rc = -ENOMEM;
    }
    else {
        rc = conf_tree_read_file(path, CONF_FILE_MAX_BYTES, &buf, len);
    }
    free(path);
    if (rc != 0) {
        if (err != NULL && rc != -ENOENT) {
            *err = -rc;
        }
        return NULL;
    }
    /* conf_tree_read_file's buffer is NUL-terminated */
    if (remember(key, buf, *len) != 0 && err != NULL) {
        *err = ENOMEM;
    }
    return buf;
}

/* Writes @text to @path through a temporary file renamed over it. 0 or a negative errno. */
static int
write_atomic(const char *path, const char *text, size_t len)
{
    char *tmp = conf_printf("%s.tmp", path);
    int fd, rc = 0;
    size_t off = 0;

    if (tmp == NULL) {
        return -ENOMEM;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        rc = -errno;
        free(tmp);
        return rc;
    }
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            rc = -errno;
            break;
        }
        off += (size_t)n;
    }
    if (rc == 0 && fsync(fd) != 0) {
        rc = -errno;
    }
    if (close(fd) != 0 && rc == 0) {
        rc = -errno;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -errno;
    }
    if (rc != 0) {
        unlink(tmp);
    }
    free(tmp);
    return rc;
}

int
sdcache_put(const char *dir, const char *key, const char *text, size_t len)
{
    const struct entry *e = find(key);
    char *path;
    int rc;

    if (e != NULL && e->len == len && memcmp(e->text, text, len) == 0) {
        return 0;
    }
    rc = remember(key, text, len);
    if (rc != 0 || dir == NULL) {
        return rc != 0 ? rc : 1;
    }
    path = sdcache_path_dup(dir, key);
    if (path == NULL) {
        return -ENOMEM;
    }
    /* as spool_dir: the directory itself is created, its parent must exist */
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        rc = -errno;
        free(path);
        return rc;
    }
    rc = write_atomic(path, text, len);
    free(path);
    return rc != 0 ? rc : 1;
}

void
sdcache_free_all(void)
{
    while (entries != NULL) {
        struct entry *e = entries;
        entries = e->next;
        free(e->key);
        free(e->text);
        free(e);
    }
}
