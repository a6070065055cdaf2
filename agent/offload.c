/*
 * The worker thread (offload.h). One thread, one queue of jobs guarded by a mutex and a
 * condition; a finished job moves to the done list and one byte on a pipe wakes the loop, whose
 * EV_READ event runs the done() calls. libevent itself is only touched from the loop thread.
 */
#include "build-config.h"

#include "offload.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

struct job {
    struct job *next; /* owned */
    offload_fn *work;
    offload_fn *done;
    void *arg;
};

struct offload {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job *todo, *todo_tail; /* owned, guarded by mu */
    struct job *done, *done_tail; /* owned, guarded by mu */
    bool stop;                    /* guarded by mu */
    size_t pending;               /* loop thread only */
    int wake[2];                  /* the pipe: worker writes, loop reads */
    struct event *ev;             /* owned */
};

static void
push(struct job **head, struct job **tail, struct job *j)
{
    j->next = NULL;
    if (*tail != NULL) {
        (*tail)->next = j;
    }
    else {
        *head = j;
    }
    *tail = j;
}

static struct job *
pop(struct job **head, struct job **tail)
{
    struct job *j = *head;

    if (j != NULL) {
        *head = j->next;
        if (*head == NULL) {
            *tail = NULL;
        }
    }
    return j;
}

static void *
worker(void *arg)
{
    struct offload *o = arg;
    struct job *j;

    pthread_mutex_lock(&o->mu);
    for (;;) {
        while (o->todo == NULL && !o->stop) {
            pthread_cond_wait(&o->cv, &o->mu);
        }
        j = pop(&o->todo, &o->todo_tail);
        if (j == NULL) {
            break; /* stop, and nothing left */
        }
        pthread_mutex_unlock(&o->mu);
        j->work(j->arg);
        pthread_mutex_lock(&o->mu);
        push(&o->done, &o->done_tail, j);
        char c = 1;
        /* A full pipe already says "something is done": the byte is not needed then. */
        while (write(o->wake[1], &c, 1) < 0 && errno == EINTR) {
        }
    }
    pthread_mutex_unlock(&o->mu);
    return NULL;
}

/* Runs the done() calls of every finished job (loop thread). */
static void
run_done(struct offload *o)
{
    struct job *j;

    for (;;) {
        pthread_mutex_lock(&o->mu);
        j = pop(&o->done, &o->done_tail);
        pthread_mutex_unlock(&o->mu);
        if (j == NULL) {
            return;
        }
        o->pending--;
        j->done(j->arg);
        free(j);
    }
}

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
    char buf[64];

    (void)what;
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
    run_done(arg);
}

struct offload *
offload_new(struct event_base *base)
{
    struct offload *o = calloc(1, sizeof(*o));

    if (o == NULL) {
        return NULL;
    }
    if (pipe2(o->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        free(o);
        return NULL;
    }
    o->ev = event_new(base, o->wake[0], EV_READ | EV_PERSIST, wake_cb, o);
    if (o->ev == NULL || event_add(o->ev, NULL) != 0 || pthread_mutex_init(&o->mu, NULL) != 0) {
        goto fail;
    }
    if (pthread_cond_init(&o->cv, NULL) != 0) {
        pthread_mutex_destroy(&o->mu);
        goto fail;
    }
    if (pthread_create(&o->thread, NULL, worker, o) != 0) {
        pthread_cond_destroy(&o->cv);
        pthread_mutex_destroy(&o->mu);
        goto fail;
    }
    return o;
fail:
    if (o->ev != NULL) {
        event_free(o->ev);
    }
    close(o->wake[0]);
    close(o->wake[1]);
    free(o);
    return NULL;
}

int
offload_submit(struct offload *o, offload_fn *work, offload_fn *done, void *arg)
{
    struct job *j = malloc(sizeof(*j));

    if (j == NULL) {
        return -ENOMEM;
    }
    j->work = work;
    j->done = done;
    j->arg = arg;
    pthread_mutex_lock(&o->mu);
    push(&o->todo, &o->todo_tail, j);
    pthread_cond_signal(&o->cv);
    pthread_mutex_unlock(&o->mu);
    o->pending++;
    return 0;
}

size_t
offload_pending(const struct offload *o)
{
    return o != NULL ? o->pending : 0;
}

void
offload_free(struct offload *o)
{
    if (o == NULL) {
        return;
    }
    pthread_mutex_lock(&o->mu);
    o->stop = true;
    pthread_cond_signal(&o->cv);
    pthread_mutex_unlock(&o->mu);
    pthread_join(o->thread, NULL); /* the worker finishes the queue first */
    run_done(o);
    /* A done() may have submitted more (a coalesced sync): the worker is gone, run it here. */
    for (struct job *j; (j = pop(&o->todo, &o->todo_tail)) != NULL;) {
        j->work(j->arg);
        push(&o->done, &o->done_tail, j);
        run_done(o);
    }
    event_free(o->ev);
    close(o->wake[0]);
    close(o->wake[1]);
    pthread_cond_destroy(&o->cv);
    pthread_mutex_destroy(&o->mu);
    free(o);
}
