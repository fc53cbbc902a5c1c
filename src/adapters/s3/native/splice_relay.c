// orch's splice relay (Linux): moves the body of a GET answer into a PUT request, socket to socket,
// with splice(2) through a pipe, on a thread of its own. The bytes never enter user space: the
// relay costs a few system calls per MiB instead of Node's per-64-KiB reads, parser callbacks,
// stream events and writes (a fifth of the CPU of the Node path on a 5 x 64 MiB copy).
//
// It only moves bytes between two connected sockets that JavaScript owns (splice-relay.ts): JS
// opens the connections, writes the request heads, parses the answers and closes the sockets,
// always after the relay has finished; the relay never closes, reads or writes anything else.
//
//   relay(srcFd, dstFd, length, idleMs, callback) -> handle
//     callback(code, message, moved, errno) on the JS thread when the relay has finished and no longer
//     touches either descriptor: code null when all `length` bytes were moved, else 'EOF' (the
//     source ended early), 'TIMEOUT' (no progress for idleMs), 'CANCELLED' (cancel(handle)),
//     'SOURCE' / 'DESTINATION' (reading / writing that socket failed: message says why), 'ERRNO'
//     (the relay's own pipe or poll failed).
//   cancel(handle): makes a relay in progress stop at once (a no-op once it has finished).
//
// Both sockets are non-blocking (libuv made them so): the thread waits in poll(2) on the one that
// blocks it and on a wake pipe that cancel() writes to.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <node_api.h>

#define PIPE_WANTED (1 << 20)

typedef struct relay {
  pthread_mutex_t mu;
  int refs;  // the JS handle and the thread
  int done;  // the thread has finished; the wake pipe is closed
  int wake[2];
  int src, dst;
  int64_t length, moved;
  int idle_ms;
  napi_threadsafe_function tsfn;
  const char *code;  // static string, NULL on success
  int err;           // errno of the failed call, 0 when none
  char message[160];
} relay_t;

static void unref(relay_t *r) {
  pthread_mutex_lock(&r->mu);
  int left = --r->refs;
  pthread_mutex_unlock(&r->mu);
  if (left == 0) {
    pthread_mutex_destroy(&r->mu);
    free(r);
  }
}

static int64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void fail(relay_t *r, const char *code, const char *what, int err) {
  r->code = code;
  r->err = err;
  if (err) snprintf(r->message, sizeof r->message, "%s: %s", what, strerror(err));
  else snprintf(r->message, sizeof r->message, "%s", what);
}

static void run(relay_t *r) {
  int p[2];
  if (pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) return fail(r, "ERRNO", "pipe2", errno);
  int cap = fcntl(p[1], F_SETPIPE_SZ, PIPE_WANTED);
  if (cap <= 0) cap = fcntl(p[1], F_GETPIPE_SZ);
  if (cap <= 0) cap = 65536;
  int64_t left = r->length;  // still to read from the source
  int64_t held = 0;          // in the pipe, not yet written
  int64_t last = now_ms();
  while (left > 0 || held > 0) {
    int moved = 0;
    if (left > 0 && held < cap) {
      int64_t want = left < cap - held ? left : cap - held;
      ssize_t n = splice(r->src, NULL, p[1], NULL, (size_t)want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        left -= n;
        held += n;
        moved = 1;
      } else if (n == 0) {
        fail(r, "EOF", "the source closed the connection before the end of the body", 0);
        break;
      } else if (errno != EAGAIN && errno != EINTR) {
        fail(r, "SOURCE", "reading the source", errno);
        break;
      }
    }
    if (held > 0) {
      ssize_t n = splice(p[0], NULL, r->dst, NULL, (size_t)held, SPLICE_F_MOVE | SPLICE_F_NONBLOCK | (left > 0 ? SPLICE_F_MORE : 0));
      if (n > 0) {
        held -= n;
        r->moved += n;
        moved = 1;
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        fail(r, "DESTINATION", "writing to the destination", n == 0 ? EPIPE : errno);
        break;
      }
    }
    if (moved) {
      last = now_ms();
      continue;
    }
    struct pollfd fds[3];
    int nfds = 0;
    fds[nfds++] = (struct pollfd){.fd = r->wake[0], .events = POLLIN};
    if (left > 0 && held < cap) fds[nfds++] = (struct pollfd){.fd = r->src, .events = POLLIN | POLLRDHUP};
    if (held > 0) fds[nfds++] = (struct pollfd){.fd = r->dst, .events = POLLOUT};
    int64_t wait = last + r->idle_ms - now_ms();
    if (wait <= 0) {
      fail(r, "TIMEOUT", "no progress", 0);
      break;
    }
    int ready = poll(fds, (nfds_t)nfds, (int)(wait > 60000 ? 60000 : wait));
    if (ready < 0 && errno != EINTR) {
      fail(r, "ERRNO", "poll", errno);
      break;
    }
    if (ready > 0 && (fds[0].revents & POLLIN)) {
      fail(r, "CANCELLED", "cancelled", 0);
      break;
    }
  }
  close(p[0]);
  close(p[1]);
}

static void *thread_main(void *arg) {
  relay_t *r = arg;
  run(r);
  pthread_mutex_lock(&r->mu);
  r->done = 1;
  close(r->wake[0]);
  close(r->wake[1]);
  pthread_mutex_unlock(&r->mu);
  // The callback (call_js) runs on the JS thread and drops the thread's reference.
  napi_call_threadsafe_function(r->tsfn, r, napi_tsfn_blocking);
  napi_release_threadsafe_function(r->tsfn, napi_tsfn_release);
  return NULL;
}

static void call_js(napi_env env, napi_value cb, void *context, void *data) {
  (void)context;
  relay_t *r = data;
  if (env != NULL && cb != NULL) {
    napi_value args[4], undefined;
    napi_get_undefined(env, &undefined);
    if (r->code) {
      napi_create_string_utf8(env, r->code, NAPI_AUTO_LENGTH, &args[0]);
      napi_create_string_utf8(env, r->message, NAPI_AUTO_LENGTH, &args[1]);
    } else {
      napi_get_null(env, &args[0]);
      napi_get_null(env, &args[1]);
    }
    napi_create_double(env, (double)r->moved, &args[2]);
    napi_create_int32(env, r->err, &args[3]);
    napi_call_function(env, undefined, cb, 4, args, NULL);
  }
  unref(r);
}

static void finalize_handle(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  unref((relay_t *)data);
}

#define THROW(env, msg)                      \
  do {                                       \
    napi_throw_error((env), NULL, (msg));    \
    return NULL;                             \
  } while (0)

static napi_value js_relay(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5) THROW(env, "relay(srcFd, dstFd, length, idleMs, callback)");
  int32_t src, dst, idle;
  int64_t length;
  napi_valuetype cbType;
  if (napi_get_value_int32(env, argv[0], &src) != napi_ok || napi_get_value_int32(env, argv[1], &dst) != napi_ok ||
      napi_get_value_int64(env, argv[2], &length) != napi_ok || napi_get_value_int32(env, argv[3], &idle) != napi_ok ||
      napi_typeof(env, argv[4], &cbType) != napi_ok || cbType != napi_function)
    THROW(env, "relay(srcFd, dstFd, length, idleMs, callback): bad arguments");
  if (src < 0 || dst < 0 || length < 0 || idle <= 0) THROW(env, "relay: bad descriptor, length or idle time");

  relay_t *r = calloc(1, sizeof *r);
  if (!r) THROW(env, "relay: out of memory");
  pthread_mutex_init(&r->mu, NULL);
  r->refs = 2;
  r->src = src;
  r->dst = dst;
  r->length = length;
  r->idle_ms = idle;
  if (pipe2(r->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
    pthread_mutex_destroy(&r->mu);
    free(r);
    THROW(env, "relay: cannot create its wake pipe");
  }
  napi_value name, handle;
  napi_create_string_utf8(env, "orch splice relay", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[4], NULL, name, 0, 1, NULL, NULL, NULL, call_js, &r->tsfn) != napi_ok) {
    close(r->wake[0]);
    close(r->wake[1]);
    pthread_mutex_destroy(&r->mu);
    free(r);
    THROW(env, "relay: cannot create its callback");
  }
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_t t;
  int err = pthread_create(&t, &attr, thread_main, r);
  pthread_attr_destroy(&attr);
  if (err != 0) {
    napi_release_threadsafe_function(r->tsfn, napi_tsfn_abort);
    close(r->wake[0]);
    close(r->wake[1]);
    pthread_mutex_destroy(&r->mu);
    free(r);
    THROW(env, "relay: cannot start its thread");
  }
  if (napi_create_external(env, r, finalize_handle, NULL, &handle) != napi_ok) {
    // The thread still holds its reference; the JS one is dropped here.
    unref(r);
    THROW(env, "relay: cannot create its handle");
  }
  return handle;
}

static napi_value js_cancel(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_get_value_external(env, argv[0], &data) != napi_ok || !data)
    THROW(env, "cancel(handle)");
  relay_t *r = data;
  pthread_mutex_lock(&r->mu);
  if (!r->done) {
    char c = 1;
    ssize_t n = write(r->wake[1], &c, 1);
    (void)n;  // a full wake pipe already wakes the thread
  }
  pthread_mutex_unlock(&r->mu);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value f;
  napi_create_function(env, "relay", NAPI_AUTO_LENGTH, js_relay, NULL, &f);
  napi_set_named_property(env, exports, "relay", f);
  napi_create_function(env, "cancel", NAPI_AUTO_LENGTH, js_cancel, NULL, &f);
  napi_set_named_property(env, exports, "cancel", f);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
