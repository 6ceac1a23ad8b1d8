#!/usr/bin/env bash
# Every pthread_* and sem_* function the libc exports is gpthread's, or is
# on the list below of calls that only read or write the caller's own
# attribute object (or the libc's per-thread cancellation and fork
# bookkeeping, or glibc's pthread_yield, which is sched_yield), which behave
# the same on every node and so stay the libc's.
# A libc function that is neither fails this test: nothing may fall through
# to a single-process implementation unnoticed.
#   check_pthread_symbols.sh LIBC_ARCHIVE_OR_SO GPTHREAD_ARCHIVE_OR_SO
set -euo pipefail
libc=$1
ours=$2

data_only='
pthread_atfork
pthread_attr_destroy pthread_attr_init
pthread_attr_getdetachstate pthread_attr_setdetachstate
pthread_attr_getguardsize pthread_attr_setguardsize
pthread_attr_getinheritsched pthread_attr_setinheritsched
pthread_attr_getschedparam pthread_attr_setschedparam
pthread_attr_getschedpolicy pthread_attr_setschedpolicy
pthread_attr_getscope pthread_attr_setscope
pthread_attr_getstack pthread_attr_setstack
pthread_attr_getstackaddr pthread_attr_setstackaddr
pthread_attr_getstacksize pthread_attr_setstacksize
pthread_attr_getaffinity_np pthread_attr_setaffinity_np
pthread_attr_getsigmask_np pthread_attr_setsigmask_np
pthread_barrierattr_destroy pthread_barrierattr_init
pthread_barrierattr_getpshared pthread_barrierattr_setpshared
pthread_condattr_destroy pthread_condattr_init
pthread_condattr_getclock pthread_condattr_setclock
pthread_condattr_getpshared pthread_condattr_setpshared
pthread_mutexattr_destroy pthread_mutexattr_init
pthread_mutexattr_getkind_np pthread_mutexattr_setkind_np
pthread_mutexattr_getprioceiling pthread_mutexattr_getprotocol
pthread_mutexattr_setprioceiling pthread_mutexattr_setprotocol
pthread_mutexattr_getpshared pthread_mutexattr_setpshared
pthread_mutexattr_getrobust pthread_mutexattr_getrobust_np
pthread_mutexattr_setrobust_np
pthread_mutexattr_gettype pthread_mutexattr_settype
pthread_mutex_consistent_np
pthread_rwlockattr_destroy pthread_rwlockattr_init
pthread_rwlockattr_getkind_np pthread_rwlockattr_setkind_np
pthread_rwlockattr_getpshared pthread_rwlockattr_setpshared
pthread_getattr_default_np pthread_setattr_default_np
pthread_getconcurrency pthread_setconcurrency
pthread_mutex_init pthread_mutex_destroy
pthread_setcancelstate pthread_setcanceltype pthread_testcancel
pthread_yield
'

exported() {  # defined pthread_/sem_ functions of an archive or shared object
  if [[ $1 == *.a ]]; then
    nm -g --defined-only "$1" 2>/dev/null | awk '$2 ~ /^[TW]$/ {print $3}'
  else
    nm -D --defined-only "$1" | awk '$2 ~ /^[TWi]$/ {print $3}' | sed 's/@.*//'
  fi | sed 's/^__wrap_//' | grep -E '^(pthread_|sem_)' | sort -u
}

missing=()
for sym in $(comm -23 <(exported "$libc") <(exported "$ours")); do
  if ! grep -qw -- "$sym" <<<"$data_only"; then missing+=("$sym"); fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "not defined by gpthread and not known to be data-only: ${missing[*]}" >&2
  exit 1
fi
echo "every pthread_/sem_ function of $(basename "$libc") is gpthread's or data-only"
