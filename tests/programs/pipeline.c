/* A compressor-style pipeline, the shape of a parallel gzip: a reader thread
 * read()s an input file in blocks into freshly malloc'ed buffers and queues
 * them; N workers (spread over the nodes) compress blocks in any order; a
 * writer thread writes the results to an output file in block order. The
 * stages hand blocks over with "wait for value" locks built on a mutex and
 * a condition variable (pigz's possess / wait_for / twist), and main joins
 * them all. Then main decompresses the output and compares it with the
 * input, byte for byte.
 *
 *   pipeline DIR ROUNDS WORKERS   prints "pipeline: ROUNDS rounds, N blocks, all equal"
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

enum { kBlock = 64 * 1024, kBlocks = 40, kMaxWorkers = 16 };

/* A value guarded by a mutex, with waits for it to reach a value. */
struct value_lock {
  pthread_mutex_t mutex;
  pthread_cond_t changed;
  long value;
};

static void value_init(struct value_lock* v, long value) {
  pthread_mutex_init(&v->mutex, NULL);
  pthread_cond_init(&v->changed, NULL);
  v->value = value;
}

static void value_destroy(struct value_lock* v) {
  pthread_mutex_destroy(&v->mutex);
  pthread_cond_destroy(&v->changed);
}

/* Waits until the value is `want`, holding the mutex on return. */
static void wait_for(struct value_lock* v, long want) {
  pthread_mutex_lock(&v->mutex);
  while (v->value != want) pthread_cond_wait(&v->changed, &v->mutex);
}

/* Sets the value (the mutex is held) and lets it go. */
static void twist(struct value_lock* v, long value) {
  v->value = value;
  pthread_cond_broadcast(&v->changed);
  pthread_mutex_unlock(&v->mutex);
}

struct block {
  long seq;            /* -1: the end of the input */
  unsigned char* in;   /* malloc'ed by the reader */
  size_t in_bytes;
  unsigned char* out;  /* malloc'ed by a worker */
  size_t out_bytes;
  struct block* next;  /* the work queue */
};

static struct {
  const char* in_path;
  const char* out_path;
  int workers;
  /* Blocks read, not yet taken by a worker (a FIFO), and how many wait. */
  pthread_mutex_t queue_lock;
  pthread_cond_t queue_changed;
  struct block* head;
  struct block* tail;
  int ended;
  /* Blocks compressed, by sequence number; `written` counts the blocks the
   * writer has taken (the writer waits for done[next] to be set). */
  struct block* done[kBlocks + 1];
  struct value_lock finished; /* value: the number of blocks compressed */
  long total;                 /* blocks in the input, once read (-1 before); under finished's mutex */
} g;

/* Run-length code: (count, byte) pairs; the input is made of runs. */
static size_t compress(const unsigned char* in, size_t n, unsigned char* out) {
  size_t o = 0;
  for (size_t i = 0; i < n;) {
    size_t run = 1;
    while (i + run < n && run < 255 && in[i + run] == in[i]) ++run;
    out[o++] = (unsigned char)run;
    out[o++] = in[i];
    i += run;
  }
  return o;
}

static size_t expand(const unsigned char* in, size_t n, unsigned char* out, size_t room) {
  size_t o = 0;
  for (size_t i = 0; i + 1 < n; i += 2) {
    if (o + in[i] > room) return (size_t)-1;
    memset(out + o, in[i + 1], in[i]);
    o += in[i];
  }
  return o;
}

static void queue_push(struct block* b) {
  pthread_mutex_lock(&g.queue_lock);
  b->next = NULL;
  if (g.tail) g.tail->next = b;
  else g.head = b;
  g.tail = b;
  pthread_cond_signal(&g.queue_changed);
  pthread_mutex_unlock(&g.queue_lock);
}

static struct block* queue_pop(void) {
  pthread_mutex_lock(&g.queue_lock);
  while (!g.head && !g.ended) pthread_cond_wait(&g.queue_changed, &g.queue_lock);
  struct block* b = g.head;
  if (b) {
    g.head = b->next;
    if (!g.head) g.tail = NULL;
  }
  pthread_mutex_unlock(&g.queue_lock);
  return b;
}

static void* reader(void* arg) {
  (void)arg;
  int fd = open(g.in_path, O_RDONLY);
  CHECK(fd >= 0, "open %s: %s", g.in_path, strerror(errno));
  long seq = 0;
  for (;; ++seq) {
    struct block* b = calloc(1, sizeof *b);
    b->in = malloc(kBlock);
    CHECK(b && b->in, "malloc of a block");
    size_t got = 0;
    while (got < kBlock) {
      ssize_t r = read(fd, b->in + got, kBlock - got);
      CHECK(r >= 0, "read of block %ld: %s", seq, strerror(errno));
      if (r == 0) break;
      got += (size_t)r;
    }
    if (got == 0) {
      free(b->in);
      free(b);
      break;
    }
    b->seq = seq;
    b->in_bytes = got;
    queue_push(b);
  }
  close(fd);
  pthread_mutex_lock(&g.finished.mutex);
  g.total = seq;
  pthread_cond_broadcast(&g.finished.changed);
  pthread_mutex_unlock(&g.finished.mutex);
  pthread_mutex_lock(&g.queue_lock);
  g.ended = 1;
  pthread_cond_broadcast(&g.queue_changed);
  pthread_mutex_unlock(&g.queue_lock);
  return NULL;
}

static void* worker(void* arg) {
  (void)arg;
  for (struct block* b; (b = queue_pop()) != NULL;) {
    b->out = malloc(2 * b->in_bytes);
    CHECK(b->out, "malloc of an output block");
    b->out_bytes = compress(b->in, b->in_bytes, b->out);
    free(b->in); /* allocated on the reader's node */
    b->in = NULL;
    pthread_mutex_lock(&g.finished.mutex);
    g.done[b->seq] = b;
    twist(&g.finished, g.finished.value + 1);
  }
  return NULL;
}

static void* writer(void* arg) {
  (void)arg;
  int fd = open(g.out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "open %s: %s", g.out_path, strerror(errno));
  for (long next = 0;; ++next) {
    /* Wait until block `next` is compressed, or the input ended before it. */
    pthread_mutex_lock(&g.finished.mutex);
    while (!g.done[next] && !(g.total >= 0 && next >= g.total))
      pthread_cond_wait(&g.finished.changed, &g.finished.mutex);
    struct block* b = g.done[next];
    g.done[next] = NULL;
    pthread_mutex_unlock(&g.finished.mutex);
    if (!b) break;
    uint32_t length = (uint32_t)b->out_bytes;
    CHECK(write(fd, &length, sizeof length) == (ssize_t)sizeof length, "write: %s", strerror(errno));
    CHECK(write(fd, b->out, b->out_bytes) == (ssize_t)b->out_bytes, "write of block %ld: %s", next,
          strerror(errno));
    free(b->out);
    free(b);
  }
  close(fd);
  return NULL;
}

/* Runs of pseudo-random bytes and lengths: compressible, different per round. */
static void make_input(const char* path, unsigned seed, size_t bytes) {
  unsigned char* data = malloc(bytes);
  CHECK(data, "malloc of the input");
  for (size_t i = 0; i < bytes;) {
    seed = seed * 1103515245u + 12345u;
    size_t run = 1 + (seed >> 16) % 40;
    if (run > bytes - i) run = bytes - i;
    memset(data + i, (int)(seed >> 8) & 0xff, run);
    i += run;
  }
  FILE* f = fopen(path, "w");
  CHECK(f && fwrite(data, 1, bytes, f) == bytes && fclose(f) == 0, "write %s", path);
  free(data);
}

/* Decompresses the output and compares it with the input. */
static int output_matches(void) {
  FILE* in = fopen(g.in_path, "r");
  FILE* out = fopen(g.out_path, "r");
  CHECK(in && out, "reopen the files");
  unsigned char* packed = malloc(2 * kBlock);
  unsigned char* expanded = malloc(kBlock);
  unsigned char* original = malloc(kBlock);
  int equal = 1;
  uint32_t length;
  while (equal && fread(&length, sizeof length, 1, out) == 1) {
    CHECK(length <= 2 * kBlock && fread(packed, 1, length, out) == length, "a short output block");
    size_t n = expand(packed, length, expanded, kBlock);
    size_t m = fread(original, 1, kBlock, in);
    equal = n == m && memcmp(expanded, original, n) == 0;
  }
  if (equal) equal = fread(original, 1, 1, in) == 0; /* the whole input was there */
  fclose(in);
  fclose(out);
  free(packed);
  free(expanded);
  free(original);
  return equal;
}

int main(int argc, char** argv) {
  CHECK(argc == 4, "usage: pipeline DIR ROUNDS WORKERS");
  char in_path[512], out_path[512];
  snprintf(in_path, sizeof in_path, "%s/pipeline.in", argv[1]);
  snprintf(out_path, sizeof out_path, "%s/pipeline.out", argv[1]);
  g.in_path = in_path;
  g.out_path = out_path;
  const int rounds = atoi(argv[2]);
  g.workers = atoi(argv[3]);
  CHECK(g.workers > 0 && g.workers <= kMaxWorkers, "1 to %d workers", kMaxWorkers);
  pthread_mutex_init(&g.queue_lock, NULL);
  pthread_cond_init(&g.queue_changed, NULL);
  long blocks = 0;
  for (int round = 0; round < rounds; ++round) {
    /* Sizes vary: a short last block, and once an empty file. */
    size_t bytes = round == 1 ? 0 : (size_t)kBlock * (size_t)(1 + round % (kBlocks - 1)) - (size_t)(round * 977 % kBlock);
    make_input(in_path, (unsigned)round + 1u, bytes);
    value_init(&g.finished, 0);
    g.total = -1;
    g.head = g.tail = NULL;
    g.ended = 0;
    pthread_t r, w, workers[kMaxWorkers];
    CHECK(pthread_create(&r, NULL, reader, NULL) == 0, "create the reader");
    for (int i = 0; i < g.workers; ++i)
      CHECK(pthread_create(&workers[i], NULL, worker, NULL) == 0, "create worker %d", i);
    CHECK(pthread_create(&w, NULL, writer, NULL) == 0, "create the writer");
    CHECK(pthread_join(r, NULL) == 0, "join the reader");
    wait_for(&g.finished, g.total); /* every block compressed */
    pthread_mutex_unlock(&g.finished.mutex);
    for (int i = 0; i < g.workers; ++i) CHECK(pthread_join(workers[i], NULL) == 0, "join worker %d", i);
    CHECK(pthread_join(w, NULL) == 0, "join the writer");
    CHECK(output_matches(), "round %d: the output does not expand to the input (%zu bytes)", round, bytes);
    blocks += g.finished.value;
    value_destroy(&g.finished);
  }
  printf("pipeline: %d rounds, %ld blocks, all equal\n", rounds, blocks);
  return 0;
}
