/* SPMD coherence checks (run with gpt-launch --spmd -n N dsm_spmd TEST).
 * Every node runs main; gpt_barrier_all() is release + all-node barrier +
 * acquire. Each node checks what it sees and exits non-zero on a mismatch;
 * node 0 prints one line per test that passed. */
#include <galloc.h>
#include <gpthread.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAGE 4096

/* Per-node values live in TLS: the program's globals are shared by all
 * nodes (that is what test_globals checks). */
static __thread int me, nodes;

static int g_counter;                 /* .bss: shared, home node 0 */
static int g_initialised = 42;        /* .data: shared, same start on all */
static long g_table[64];
static char g_big[3 * PAGE + 100];    /* spans pages */

/* Each node's scratch block, allocated by that node (so it is the home) and
 * published through a shared global before the tests start. */
#define BLOCK_PAGES 4096
static unsigned char* g_blocks[64];
#define BLOCK(k) (g_blocks[k])

static int fail(const char* what, size_t at, unsigned got, unsigned want) {
  fprintf(stderr, "node %d: %s: byte %zu is %u, expected %u\n", me, what, at, got, want);
  return 1;
}

/* Node 0 writes 64 KiB in its partition; the last node reads it. */
static int test_buffer(void) {
  unsigned char* buf = BLOCK(0);
  const size_t n = 16 * PAGE;
  if (me == 0)
    for (size_t i = 0; i < n; ++i) buf[i] = (unsigned char)(i * 7 + 3);
  gpt_barrier_all();
  if (me == nodes - 1)
    for (size_t i = 0; i < n; ++i)
      if (buf[i] != (unsigned char)(i * 7 + 3)) return fail("buffer", i, buf[i], (unsigned char)(i * 7 + 3));
  gpt_barrier_all();
  return 0;
}

/* Every node writes its own interleaved bytes of two pages homed at the last
 * node (false sharing down to single bytes); everyone sees all of them. */
static int test_interleaved(void) {
  unsigned char* page = BLOCK(nodes - 1);
  page += 5 * PAGE;
  for (size_t i = 0; i < 2 * PAGE; ++i)
    if ((int)(i % nodes) == me) page[i] = (unsigned char)(me + 1 + i);
  gpt_barrier_all();
  for (size_t i = 0; i < 2 * PAGE; ++i) {
    unsigned want = (unsigned char)((i % nodes) + 1 + i);
    if (page[i] != want) return fail("interleaved", i, page[i], want);
  }
  gpt_barrier_all();
  return 0;
}

/* Two nodes write disjoint halves of one page homed at node 0. */
static int test_halves(void) {
  unsigned char* page = (unsigned char*)BLOCK(0) + 40 * PAGE;
  int a = nodes > 1 ? 1 : 0, b = nodes > 2 ? 2 : 0;
  if (me == a) memset(page, 0xAA, PAGE / 2);
  if (me == b) memset(page + PAGE / 2, 0xBB, PAGE / 2);
  gpt_barrier_all();
  for (size_t i = 0; i < PAGE; ++i) {
    unsigned want = i < PAGE / 2 ? 0xAA : 0xBB;
    if (page[i] != want) return fail("halves", i, page[i], want);
  }
  gpt_barrier_all();
  return 0;
}

/* A page read twice without an intervening invalidation is fetched at
 * most once; a page nobody else wrote is not invalidated by an acquire. */
static int test_counters(void) {
  volatile unsigned char* page = (unsigned char*)BLOCK(0) + 80 * PAGE;
  volatile unsigned char* quiet = (unsigned char*)BLOCK(0) + 81 * PAGE;
  if (me == 0) {
    page[0] = 42;
    quiet[0] = 7;
  }
  gpt_barrier_all();
  /* Node 0 keeps its pages writable after their first notice. Once another
   * node has read them, node 0's next release cannot tell whether it wrote
   * them since, so it notices them once more and write-protects them
   * (docs/coherence.md, "Exclusive pages"): at the first barrier below, or
   * at the second if node 0 got to the first before the read. After that
   * node 0 holds them protected and nothing outdates the copies; this
   * node's copy came with that notice or is fetched below. */
  unsigned q = quiet[0] + page[0];
  gpt_barrier_all();
  gpt_barrier_all();
  q = quiet[0];
  struct galloc_stats before, after;
  galloc_get_stats(&before);
  unsigned v1 = page[0];
  unsigned v2 = page[1];
  galloc_acquire(); /* nobody wrote since: nothing to invalidate */
  unsigned v3 = page[2] + quiet[1];
  galloc_get_stats(&after);
  if (v1 != 42 || v2 != 0 || v3 != 0 || q != 7) return fail("counters", 0, v1, 42);
  unsigned long long fetched = after.read_faults - before.read_faults;
  unsigned long long most = me == 0 ? 0 : 1; /* node 0 is the home */
  if (fetched > most) {
    fprintf(stderr, "node %d: counters: %llu fetches for one page read three times (want at most %llu)\n",
            me, fetched, most);
    return 1;
  }
  if (after.invalidations != before.invalidations) {
    fprintf(stderr, "node %d: counters: an acquire with no new writes invalidated %llu pages\n",
            me, after.invalidations - before.invalidations);
    return 1;
  }
  gpt_barrier_all();
  return 0;
}

/* Many rounds: each round one node (round-robin) increments every counter
 * of an array spread over pages of all partitions; all check the totals. */
static int test_rounds(void) {
  const int rounds = 20;
  unsigned* cells[8];
  for (int k = 0; k < nodes && k < 8; ++k)
    cells[k] = (unsigned*)((char*)BLOCK(k) + 100 * PAGE);
  for (int r = 0; r < rounds; ++r) {
    if (r % nodes == me)
      for (int k = 0; k < nodes && k < 8; ++k)
        for (int i = 0; i < 2048; ++i) cells[k][i] += 1;
    gpt_barrier_all();
  }
  for (int k = 0; k < nodes && k < 8; ++k)
    for (int i = 0; i < 2048; ++i)
      if (cells[k][i] != (unsigned)rounds) return fail("rounds", (size_t)i, cells[k][i], rounds);
  gpt_barrier_all();
  return 0;
}

/* A linked list built by every node in turn, from each node's own heap;
 * every node then walks it. The head lives at a fixed global address. */
struct item {
  struct item* next;
  int node, index;
  char payload[40];
};

static int test_list(void) {
  struct item** head = (struct item**)((char*)BLOCK(0) + 200 * PAGE);
  const int per_node = 300;
  for (int turn = 0; turn < nodes; ++turn) {
    if (turn == me)
      for (int i = 0; i < per_node; ++i) {
        struct item* it = malloc(sizeof *it);
        if (!it) return fail("list: malloc", 0, 0, 1);
        it->node = me;
        it->index = i;
        snprintf(it->payload, sizeof it->payload, "node %d item %d", me, i);
        it->next = *head;
        *head = it;
      }
    gpt_barrier_all();
  }
  int count = 0;
  for (struct item* it = *head; it; it = it->next, ++count) {
    char want[40];
    snprintf(want, sizeof want, "node %d item %d", it->node, it->index);
    if (strcmp(want, it->payload) != 0) return fail("list: payload", (size_t)count, 0, 1);
    /* The allocating node is the home of the item's memory. */
    if ((char*)it < (char*)galloc_partition_base(it->node) ||
        (char*)it >= (char*)galloc_partition_base(it->node) + galloc_partition_size())
      return fail("list: home", (size_t)count, (unsigned)it->node, 0);
  }
  if (count != per_node * nodes) return fail("list: length", 0, (unsigned)count, (unsigned)(per_node * nodes));
  gpt_barrier_all();
  return 0;
}

/* The last node grows a buffer with realloc from 16 B to 1 MiB; node 0
 * checks it, grows it further (realloc of another node's memory) and frees
 * it. */
static int test_realloc(void) {
  unsigned char** slot = (unsigned char**)((char*)BLOCK(0) + 201 * PAGE);
  const int grower = nodes - 1;
  size_t size = 16;
  if (me == grower) {
    unsigned char* p = NULL;
    size_t filled = 0;
    for (size = 16; size <= (1u << 20); size *= 2) {
      p = realloc(p, size);
      if (!p) return fail("realloc: grow", size, 0, 1);
      for (; filled < size; ++filled) p[filled] = (unsigned char)(filled * 13 + 1);
    }
    *slot = p;
  }
  gpt_barrier_all();
  if (me == 0) {
    unsigned char* p = *slot;
    const size_t n = 1u << 20;
    for (size_t i = 0; i < n; ++i)
      if (p[i] != (unsigned char)(i * 13 + 1)) return fail("realloc: read", i, p[i], (unsigned char)(i * 13 + 1));
    if (malloc_usable_size(p) < n) return fail("realloc: usable size", 0, (unsigned)malloc_usable_size(p), (unsigned)n);
    p = realloc(p, 3 * n); /* another node's block: copied here, old one sent home */
    if (!p) return fail("realloc: foreign", 0, 0, 1);
    for (size_t i = 0; i < n; ++i)
      if (p[i] != (unsigned char)(i * 13 + 1)) return fail("realloc: copied", i, p[i], (unsigned char)(i * 13 + 1));
    free(p);
  }
  gpt_barrier_all();
  return 0;
}

/* Node 1 allocates objects; node 0 frees them all (frees of another node's
 * memory: batched and sent home); node 1 gets them back and reuses them. */
static int test_remote_free(void) {
  void*** slot = (void***)((char*)BLOCK(0) + 202 * PAGE);
  const int n = 1000;
  const int owner = nodes > 1 ? 1 : 0;
  struct galloc_stats before, after;
  galloc_get_stats(&before);
  if (me == owner) {
    void** ptrs = malloc(n * sizeof *ptrs);
    for (int i = 0; i < n; ++i) ptrs[i] = malloc(48);
    *slot = ptrs;
  }
  gpt_barrier_all();
  if (me == 0) {
    void** ptrs = *slot;
    for (int i = 0; i < n; ++i) free(ptrs[i]);
  }
  gpt_barrier_all(); /* release flushes the last partial batch */
  if (me == owner) {
    /* Allocation slow paths take the returned frees back. */
    int reused = 0;
    void** ptrs = *slot;
    for (int i = 0; i < 4 * n; ++i) {
      void* q = malloc(48);
      for (int k = 0; k < n && !reused; ++k) reused = q == ptrs[k];
    }
    galloc_get_stats(&after);
    /* At least ours (an earlier test's free may arrive in this window too). */
    if (nodes > 1 && after.remote_frees_received - before.remote_frees_received < (unsigned long long)n)
      return fail("remote free: received", 0, (unsigned)(after.remote_frees_received - before.remote_frees_received), n);
    if (!reused) return fail("remote free: memory reused", 0, 0, 1);
  }
  if (me == 0 && owner != 0) {
    galloc_get_stats(&after);
    if (after.remote_frees_sent - before.remote_frees_sent != (unsigned long long)n)
      return fail("remote free: sent", 0, (unsigned)(after.remote_frees_sent - before.remote_frees_sent), n);
    /* Batched: three full batches of 256, the rest flushed by the release. */
    unsigned long long batches = after.remote_free_batches - before.remote_free_batches;
    if (batches != (unsigned long long)(n + 255) / 256)
      return fail("remote free: batches", 0, (unsigned)batches, (unsigned)(n + 255) / 256);
  }
  gpt_barrier_all();
  return 0;
}

/* The program's own globals are one memory: each node in turn bumps a
 * counter and fills its row; everyone sees every write. */
static int test_globals(void) {
  if (g_initialised != 42) return fail("globals: initial value", 0, (unsigned)g_initialised, 42);
  for (int turn = 0; turn < nodes; ++turn) {
    if (turn == me) {
      g_counter += 1;
      g_table[me] = 1000 + me;
      memset(g_big + me * 100, 'a' + me, 100);
    }
    gpt_barrier_all();
  }
  if (g_counter != nodes) return fail("globals: counter", 0, (unsigned)g_counter, (unsigned)nodes);
  for (int k = 0; k < nodes; ++k) {
    if (g_table[k] != 1000 + k) return fail("globals: table", (size_t)k, (unsigned)g_table[k], 1000u + k);
    for (int i = 0; i < 100; ++i)
      if (g_big[k * 100 + i] != 'a' + k) return fail("globals: big", (size_t)(k * 100 + i), (unsigned char)g_big[k * 100 + i], 'a' + k);
  }
  gpt_barrier_all();
  return 0;
}

/* Another local thread's unreleased write survives an acquire that
 * invalidates its page: node 1's helper thread dirties P, node 0 writes
 * another byte of P and releases, node 1 acquires until it sees node 0's
 * write; the helper's byte must still be there (flushed before the page
 * was dropped). */
static volatile unsigned char* threads_page;

static void* dirty_the_page(void* arg) {
  (void)arg;
  threads_page[100] = 7;
  return NULL;
}

static int test_threads(void) {
  threads_page = (unsigned char*)BLOCK(0) + 300 * PAGE;
  gpt_barrier_all();
  if (nodes > 1 && me == 1) {
    pthread_t t;
    pthread_create(&t, NULL, dirty_the_page, NULL);
    pthread_join(t, NULL);
  }
  if (me == 0) {
    threads_page[0] = 1;
    galloc_release();
  }
  if (nodes > 1 && me == 1) {
    int tries = 0;
    for (; tries < 100000 && threads_page[0] != 1; ++tries) galloc_acquire();
    if (threads_page[0] != 1) return fail("threads: node 0's byte", 0, threads_page[0], 1);
    if (threads_page[100] != 7) return fail("threads: local thread's byte", 100, threads_page[100], 7);
  }
  gpt_barrier_all();
  if (nodes > 1 && (threads_page[0] != 1 || threads_page[100] != 7))
    return fail("threads: after barrier", 100, threads_page[100], 7);
  gpt_barrier_all();
  return 0;
}

/* Installing a page copy must not open the page to local writes that the
 * runtime would not see: node 1's writer thread keeps rewriting words of
 * page P (homed at node 0, unreleased, no synchronisation needed: nobody
 * else reads them before the barrier) while its main thread acquires over
 * and over and node 0 keeps writing another word of P and releasing, so
 * every acquire of node 1 installs a fresh copy of P. The writer checks
 * its words after each round (a copy written over them) and node 0 checks
 * the last round after the barrier (a write that never became dirty). */
enum { kInstallWords = 256, kInstallRounds = 400 };

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}
static volatile int* install_page;
static volatile int install_done;
static int install_bad_word = -1, install_bad_value, install_bad_round;

static void* write_rounds(void* arg) {
  (void)arg;
  int bad = 0;
  for (int r = 1; r <= kInstallRounds && !bad; ++r) {
    for (int k = 0; k < kInstallWords; ++k) install_page[8 + k] = r;
    galloc_release();  /* P clean again: copies may be installed over it now */
    /* A millisecond with P clean (copies are installed meanwhile), then
     * the next round's first store lands at any moment of an install. */
    const double until = now_seconds() + 0.001;
    while (!bad && now_seconds() < until)
      for (int k = 0; k < kInstallWords && !bad; ++k)
        if (install_page[8 + k] != r) {
          bad = 1;
          install_bad_word = k, install_bad_value = install_page[8 + k], install_bad_round = r;
        }
  }
  __atomic_store_n(&install_done, 1, __ATOMIC_RELEASE);  /* a flag between two threads of node 1 */
  return NULL;
}

static int test_install(void) {
  install_page = (volatile int*)(BLOCK(0) + 310 * PAGE);
  volatile int* node0_word = install_page;
  volatile int* stop = install_page + 600;  /* node 1 -> node 0, through a release */
  gpt_barrier_all();
  if (nodes > 1 && me == 1) {
    (void)node0_word[0];  /* a copy holder of P: node 0 sends copies of it with notices */
    pthread_t t;
    pthread_attr_t here;
    pthread_attr_init(&here);
    gpt_attr_setnode(&here, me);
    pthread_create(&t, &here, write_rounds, NULL);
    while (!__atomic_load_n(&install_done, __ATOMIC_ACQUIRE)) galloc_acquire();
    pthread_join(t, NULL);
    if (install_bad_word >= 0)
      return fail("install: a copy overwrote word (index)", (size_t)install_bad_word,
                  (unsigned)install_bad_value, (unsigned)install_bad_round);
    *stop = 1;
    galloc_release();
  }
  if (nodes > 1 && me == 0) {
    for (int i = 1; i < 10000000; ++i) {
      node0_word[0] = i;
      galloc_release();
      galloc_acquire();
      if (*stop) break;
    }
  }
  gpt_barrier_all();
  if (nodes > 1)
    for (int k = 0; k < kInstallWords; ++k)
      if (install_page[8 + k] != kInstallRounds)
        return fail("install: the writer's last round", (size_t)k, (unsigned)install_page[8 + k], kInstallRounds);
  gpt_barrier_all();
  return 0;
}

/* Nodes 0 and 1 take turns on a mutex (a global: node 0 manages it and is
 * home of its page). Each turn checks that the other node's latest value
 * and its own earlier value are both there, in one page homed at node 0,
 * and writes its own. Node 1's acquires need no message to node 0 (the
 * notices come with the token) and it gets the page from the copy node 0
 * sends along (installed with the acquire, or read at the fault), never
 * from a stale copy that lacks its own writes. */
static pthread_mutex_t g_turn_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile int g_turn;
static volatile int g_turn_values[2][PAGE / sizeof(int) / 2];

static int test_handoff(void) {
  const int turns = 300, slots = (int)(PAGE / sizeof(int) / 2);
  struct galloc_stats before, after;
  galloc_get_stats(&before);
  if (me < 2 && nodes > 1) {
    for (int t = me; t < turns; t += 2) {
      for (;;) {
        pthread_mutex_lock(&g_turn_lock);
        if (g_turn == t) break;
        pthread_mutex_unlock(&g_turn_lock);
      }
      int other = 1 - me, slot = t % slots;
      if (t > 0 && g_turn_values[other][(t - 1) % slots] != t - 1)
        return fail("handoff: the other node's value", (size_t)t, (unsigned)g_turn_values[other][(t - 1) % slots], (unsigned)(t - 1));
      if (t > 1 && g_turn_values[me][(t - 2) % slots] != t - 2)
        return fail("handoff: our own earlier value", (size_t)t, (unsigned)g_turn_values[me][(t - 2) % slots], (unsigned)(t - 2));
      g_turn_values[me][slot] = t;
      g_turn = t + 1;
      pthread_mutex_unlock(&g_turn_lock);
    }
  }
  galloc_get_stats(&after);
  unsigned long long answered = after.acquires_answered_here - before.acquires_answered_here;
  unsigned long long copies = after.fetches_from_copies - before.fetches_from_copies +
                              after.copies_installed - before.copies_installed;
  if (me == 1 && (answered < (unsigned)turns / 4 || copies < (unsigned)turns / 4)) {
    fprintf(stderr, "node 1: handoff: %llu acquires answered here, %llu pages from copies (want >= %d each)\n",
            answered, copies, turns / 4);
    return 1;
  }
  gpt_barrier_all();
  return 0;
}

/* Sequential scans are read ahead (copies asked for before the faults);
 * copies read ahead must never outlive a write another node released, nor
 * hide this node's own. Pages homed at node 0 and at the last node, each
 * rewritten by its home in three rounds (every page, then the even ones);
 * node 1 also writes a byte of every fifth page; every node scans and
 * checks (node 0 too: it learns of writes from its own notice log). The
 * first round reads only the first half, leaving copies read ahead. */
static int scan_area(int home, int round, int check_copies) {
  enum { kPages = 300 };
  volatile unsigned char* area = BLOCK(home) + 400 * PAGE;
  static unsigned char expect[2][kPages];
  const int which = home == 0 ? 0 : 1;
  for (int p = 0; p < kPages; ++p) {
    unsigned char v = (unsigned char)(round * 50 + p % 7 + 1 + which);
    if (round == 0 || p % 2 == 0) {
      expect[which][p] = v;
      if (me == home) area[(size_t)p * PAGE] = v;
    }
    if (me == 1 && home != 1 && p % 5 == 0) area[(size_t)p * PAGE + 8] = (unsigned char)(round + 1);
  }
  gpt_barrier_all();
  struct galloc_stats before, after;
  galloc_get_stats(&before);
  /* Round 0 reads the first half only: the copies read ahead past it must
   * not be used after the home rewrote those pages. */
  const int scanned = round == 0 ? kPages / 2 : kPages;
  for (int p = 0; p < scanned; ++p) {
    if (area[(size_t)p * PAGE] != expect[which][p])
      return fail("scan: the home's byte", (size_t)p, area[(size_t)p * PAGE], expect[which][p]);
    if (nodes > 1 && home != 1 && p % 5 == 0 && area[(size_t)p * PAGE + 8] != round + 1)
      return fail("scan: node 1's byte", (size_t)p, area[(size_t)p * PAGE + 8], (unsigned)round + 1);
  }
  galloc_get_stats(&after);
  if (check_copies && me != home && me != 1 && round == 0 &&
      after.fetches_from_copies - before.fetches_from_copies < kPages / 8) {
    fprintf(stderr, "node %d: scan: only %llu pages came from copies read ahead\n", me,
            after.fetches_from_copies - before.fetches_from_copies);
    return 1;
  }
  gpt_barrier_all();
  return 0;
}

static int test_scan(void) {
  for (int round = 0; round < 3; ++round)
    for (int h = 0; h < 2; ++h)
      if (scan_area(h == 0 ? 0 : nodes - 1, round, nodes > 2)) return 1;
  return 0;
}

/* A big free gives its memory back to the system: the node's resident
 * memory (its share of the memfd, or anonymous memory without an agent)
 * drops by about the block's size. */
static long resident_kb(void) {
  FILE* f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long total = 0, kb;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "RssShmem: %ld kB", &kb) == 1 || sscanf(line, "RssAnon: %ld kB", &kb) == 1) total += kb;
  fclose(f);
  return total;
}

static int test_large_free(void) {
  const size_t bytes = 32u << 20;
  for (int round = 0; round < 3; ++round) {
    unsigned char* p = malloc(bytes);
    if (!p) return fail("large_free: malloc", 0, 0, 1);
    memset(p, round + 1, bytes);
    /* Read it back, so the compiler cannot drop the block altogether. */
    unsigned long sum = 0;
    for (size_t i = 0; i < bytes; i += 4096) sum += p[i];
    if (sum != (unsigned long)(round + 1) * (bytes / 4096)) return fail("large_free: contents", 0, (unsigned)sum, 0);
    long before = resident_kb();
    free(p);
    long after = resident_kb();
    if (before < 0 || before - after < 24 * 1024) {
      fprintf(stderr, "node %d: large_free: resident %ld kB before the free, %ld kB after\n", me, before, after);
      return 1;
    }
  }
  /* Memory given back comes back as zeros, and works as memory. */
  unsigned char* q = calloc(bytes, 1);
  for (size_t i = 0; i < bytes; i += 4096)
    if (q[i] != 0) return fail("large_free: calloc after a free", i, q[i], 0);
  q[bytes - 1] = 9;
  free(q);
  gpt_barrier_all();
  return 0;
}

/* Pages only their home holds (docs/coherence.md, "Exclusive pages"): after
 * the first release, node 0 rewrites them round after round without write
 * faults; another node that starts reading still sees the latest bytes, and
 * from then on node 0's writes reach it again. */
#define EXCLUSIVE_PAGES 16
#define EXCLUSIVE_ROUNDS 50
static int test_exclusive(void) {
  unsigned char* area = BLOCK(0) + 300 * PAGE;
  struct galloc_stats before, after;
  if (me == 0) {
    for (int p = 0; p < EXCLUSIVE_PAGES; ++p) area[p * PAGE] = 1;
    gpt_barrier_all(); /* the first release: the pages' notice goes */
    for (int r = 2; r <= EXCLUSIVE_ROUNDS; ++r) {
      /* From round 2 on, no faults: the first notice left the pages
       * writable, as no copy of them ever left node 0. (Pages that earlier
       * cases of an "all" run had other nodes read were write-protected by
       * that notice and fault once in round 2: 4 of them.) */
      if (r == 2) galloc_get_stats(&before);
      for (int p = 0; p < EXCLUSIVE_PAGES; ++p) area[p * PAGE + r % 7] = (unsigned char)r;
      galloc_release();
    }
    galloc_get_stats(&after);
    if (nodes > 1) {
      /* Without exclusive pages: one fault per page and round; before pages
       * stayed writable after their first notice, one per page in round 2. */
      const unsigned long long faults = after.write_faults - before.write_faults;
      if (getenv("GPT_TEST_VERBOSE")) fprintf(stderr, "node 0: exclusive: %llu write faults\n", faults);
      if (faults >= EXCLUSIVE_PAGES / 2) {
        fprintf(stderr, "node 0: exclusive: %llu write faults over %d releases of %d pages only it holds\n",
                faults, EXCLUSIVE_ROUNDS - 1, EXCLUSIVE_PAGES);
        return 1;
      }
      if (after.sole_pages_kept - before.sole_pages_kept < (unsigned long long)EXCLUSIVE_PAGES * (EXCLUSIVE_ROUNDS - 1)) {
        fprintf(stderr, "node 0: exclusive: releases kept only %llu pages writable\n",
                after.sole_pages_kept - before.sole_pages_kept);
        return 1;
      }
    }
  } else {
    gpt_barrier_all();
  }
  gpt_barrier_all();
  /* Every node reads the latest bytes: byte k of each page holds the last
   * round r with r % 7 == k. Then node 0 writes again. */
  for (int p = 0; p < EXCLUSIVE_PAGES; ++p)
    for (int k = 0; k < 7; ++k) {
      unsigned want = EXCLUSIVE_ROUNDS;
      while (want % 7 != (unsigned)k) --want;
      if (area[p * PAGE + k] != want)
        return fail("exclusive: after the rounds", (size_t)(p * PAGE + k), area[p * PAGE + k], want);
    }
  gpt_barrier_all();
  if (me == 0)
    for (int p = 0; p < EXCLUSIVE_PAGES; ++p) area[p * PAGE + 100] = 77;
  gpt_barrier_all();
  for (int p = 0; p < EXCLUSIVE_PAGES; ++p)
    if (area[p * PAGE + 100] != 77) return fail("exclusive: written after a read", (size_t)(p * PAGE + 100), area[p * PAGE + 100], 77);
  gpt_barrier_all();
  return 0;
}

/* Sequential writes (docs/coherence.md, "Write-ahead"): the last node
 * writes the first WA_WRITTEN of WA_PAGES pages of node 0's block in order,
 * each page once. Its write faults come per doubling streak, not per page;
 * the pages it twinned ahead but never wrote cost no notice: a third node
 * that holds copies of all of them loses only the written ones. Everyone
 * then reads exactly what was written. */
#define WA_PAGES 64
#define WA_WRITTEN 40
static int test_write_ahead(void) {
  unsigned char* area = BLOCK(0) + 400 * PAGE;
  const int writer = nodes - 1, watcher = nodes > 2 ? 1 : -1;
  struct galloc_stats before, after;
  /* What earlier tests left there (every node reads it: valid copies). */
  static unsigned char was[WA_PAGES][PAGE / 512];
  for (int p = 0; p < WA_PAGES; ++p)
    for (int k = 0; k < PAGE; k += 512) was[p][k / 512] = area[p * PAGE + k];
  gpt_barrier_all();
  galloc_get_stats(&before);
  if (me == writer)
    for (int p = 0; p < WA_WRITTEN; ++p)
      for (int k = 0; k < PAGE; k += 512) area[p * PAGE + k] = (unsigned char)(p + k / 512 + 1);
  if (me == writer) galloc_get_stats(&after);
  gpt_barrier_all();
  if (me == watcher) galloc_get_stats(&after);
  if (me == writer && writer != 0) {
    const unsigned long long faults = after.write_faults - before.write_faults;
    if (faults > 12 || after.pages_written_ahead == before.pages_written_ahead) {
      fprintf(stderr, "node %d: write_ahead: %llu write faults, %llu pages written ahead for %d pages written in order\n",
              me, faults, after.pages_written_ahead - before.pages_written_ahead, WA_WRITTEN);
      return 1;
    }
  }
  if (me == watcher) {
    /* The written pages, and a few of the runtime's own (stacks). */
    const unsigned long long dropped = after.invalidations - before.invalidations;
    if (dropped >= WA_WRITTEN + (WA_PAGES - WA_WRITTEN) / 2) {
      fprintf(stderr, "node %d: write_ahead: %llu pages invalidated for %d written\n", me, dropped, WA_WRITTEN);
      return 1;
    }
  }
  for (int p = 0; p < WA_PAGES; ++p)
    for (int k = 0; k < PAGE; k += 512) {
      const unsigned want = p < WA_WRITTEN ? (unsigned)(p + k / 512 + 1) & 0xff : was[p][k / 512];
      if (area[p * PAGE + k] != want) return fail("write_ahead", (size_t)(p * PAGE + k), area[p * PAGE + k], want);
    }
  gpt_barrier_all();
  return 0;
}

/* Pages written again and again by a node other than their home stay
 * writable (docs/coherence.md, "Written pages stay writable"): the last
 * node writes KW_PAGES pages of node 0's block every round, every other
 * node reads them each round and sees the round's values; from round 3 on
 * the writer takes no write faults for them. Then it stops writing: after
 * a few quiet releases they are write-protected again, and a write after
 * that faults and is seen too. */
#define KW_PAGES 8
#define KW_ROUNDS 20
static int test_kept_writable(void) {
  unsigned char* area = BLOCK(0) + 500 * PAGE;
  const int writer = nodes - 1;
  struct galloc_stats before, after;
  for (int r = 1; r <= KW_ROUNDS; ++r) {
    if (r == 3) galloc_get_stats(&before);
    if (me == writer)
      for (int p = 0; p < KW_PAGES; ++p) area[p * PAGE + r % 64] = (unsigned char)(r + p);
    gpt_barrier_all();
    for (int p = 0; p < KW_PAGES; ++p)
      if (area[p * PAGE + r % 64] != (unsigned char)(r + p))
        return fail("kept_writable: a round's byte", (size_t)(p * PAGE + r % 64), area[p * PAGE + r % 64],
                    (unsigned char)(r + p));
    gpt_barrier_all();
  }
  galloc_get_stats(&after);
  if (me == writer && writer != 0) {
    const unsigned long long faults = after.write_faults - before.write_faults;
    if (getenv("GPT_TEST_VERBOSE")) fprintf(stderr, "node %d: kept_writable: %llu write faults\n", me, faults);
    if (faults >= KW_PAGES) {
      fprintf(stderr, "node %d: kept_writable: %llu write faults over %d rounds of %d pages it writes\n", me,
              faults, KW_ROUNDS - 2, KW_PAGES);
      return 1;
    }
  }
  for (int quiet = 0; quiet < 10; ++quiet) gpt_barrier_all();
  galloc_get_stats(&before);
  if (me == writer) area[PAGE + 100] = 99;
  galloc_get_stats(&after);
  if (me == writer && writer != 0 && after.write_faults == before.write_faults) {
    fprintf(stderr, "node %d: kept_writable: a page unwritten for 10 releases was still writable\n", me);
    return 1;
  }
  gpt_barrier_all();
  if (area[PAGE + 100] != 99) return fail("kept_writable: a write after the quiet", PAGE + 100, area[PAGE + 100], 99);
  gpt_barrier_all();
  return 0;
}

int main(int argc, char** argv) {
  me = gpt_node_id();
  nodes = gpt_node_count();
  g_blocks[me] = calloc(BLOCK_PAGES, PAGE);
  if (!g_blocks[me]) return fail("calloc of the scratch block", 0, 0, 1);
  gpt_barrier_all();
  static const struct { const char* name; int (*run)(void); } tests[] = {
      {"buffer", test_buffer},       {"interleaved", test_interleaved},
      {"halves", test_halves},       {"counters", test_counters},
      {"rounds", test_rounds},       {"list", test_list},
      {"realloc", test_realloc},     {"remote_free", test_remote_free},
      {"globals", test_globals},     {"threads", test_threads},
      {"handoff", test_handoff},     {"large_free", test_large_free},
      {"scan", test_scan},           {"install", test_install},
      {"exclusive", test_exclusive}, {"write_ahead", test_write_ahead},
      {"kept_writable", test_kept_writable},
  };
  int failures = 0;
  for (size_t t = 0; t < sizeof tests / sizeof tests[0]; ++t) {
    /* Cases named on the command line (in the table's order), or "all". */
    int chosen = argc == 1 || strcmp(argv[1], "all") == 0;
    for (int a = 1; a < argc && !chosen; ++a) chosen = strcmp(argv[a], tests[t].name) == 0;
    if (!chosen) continue;
    int bad = tests[t].run();
    failures += bad;
    if (!bad && me == 0) printf("%s: ok on %d nodes\n", tests[t].name, nodes);
  }
  fflush(stdout);
  return failures ? 1 : 0;
}
