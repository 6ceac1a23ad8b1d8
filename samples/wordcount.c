/* wordcount: main maps a text file with mmap and hands the pointer to 8
 * threads; each counts the words that start in its share of the text and
 * how long they are (words above 32 letters count as 32). With gpthread the threads run on every node, and the
 * mapping is readable at the same address on all of them.
 *   wordcount [FILE]   without FILE, a generated text in a temporary file */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define THREADS 8
#define LONGEST 32

struct share {
  const char* text;
  size_t size, from, to; /* the whole text; this share of it */
  long words;
  long lengths[LONGEST + 1]; /* words of each length; the last counts longer ones */
};

static int is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

static void count(struct share* s) {
  for (size_t i = s->from; i < s->to; ++i) {
    if (is_space(s->text[i]) || (i > 0 && !is_space(s->text[i - 1]))) continue;
    size_t end = i;
    while (end < s->size && !is_space(s->text[end])) ++end;
    size_t length = end - i;
    ++s->words;
    ++s->lengths[length < LONGEST ? length : LONGEST];
  }
}

static void* worker(void* arg) {
  count(arg);
  return NULL;
}

/* A text of 4 MiB of pseudo-random words, in a temporary file. */
static int generated_text(void) {
  char path[] = "/tmp/wordcount-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return -1;
  unlink(path);
  static char buffer[1 << 16];
  unsigned x = 2024;
  for (int block = 0; block < 64; ++block) {
    for (size_t i = 0; i < sizeof buffer; ++i) {
      x = x * 1103515245u + 12345u;
      unsigned v = (x >> 16) % 32;
      buffer[i] = v < 26 ? (char)('a' + v) : v < 31 ? ' ' : '\n';
    }
    if (write(fd, buffer, sizeof buffer) != (ssize_t)sizeof buffer) return -1;
  }
  return fd;
}

int main(int argc, char** argv) {
  int fd = argc > 1 ? open(argv[1], O_RDONLY) : generated_text();
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0) {
    perror("wordcount: the input");
    return 1;
  }
  const size_t size = (size_t)st.st_size;
  const char* text = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (text == MAP_FAILED) {
    perror("wordcount: mmap");
    return 1;
  }
  close(fd); /* the mapping stays */

  struct share shares[THREADS];
  pthread_t threads[THREADS];
  for (int t = 0; t < THREADS; ++t) {
    memset(&shares[t], 0, sizeof shares[t]);
    shares[t].text = text;
    shares[t].size = size;
    shares[t].from = size * t / THREADS;
    shares[t].to = size * (t + 1) / THREADS;
    pthread_create(&threads[t], NULL, worker, &shares[t]);
  }
  struct share all = {text, size, 0, size, 0, {0}};
  for (int t = 0; t < THREADS; ++t) {
    pthread_join(threads[t], NULL);
    all.words += shares[t].words;
    for (int n = 0; n <= LONGEST; ++n) all.lengths[n] += shares[t].lengths[n];
  }

  /* The same count by one thread: the answer must not depend on the split. */
  struct share one = {text, size, 0, size, 0, {0}};
  count(&one);
  int same = one.words == all.words && memcmp(one.lengths, all.lengths, sizeof one.lengths) == 0;
  long letters = 0;
  for (int n = 1; n <= LONGEST; ++n) letters += n * all.lengths[n];
  printf("wordcount: %ld words in %zu bytes, %.2f letters long on average (%s)\n", all.words, size,
         all.words ? (double)letters / all.words : 0.0, same ? "ok" : "WRONG");
  munmap((void*)text, size);
  return same ? 0 : 1;
}
