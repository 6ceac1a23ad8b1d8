/* The only code from which the runtime makes system calls while syscall
 * user dispatch is on (common/gpt/raw_syscall.h, docs/libc-shim.md): its
 * own section, whose bounds (__start_/__stop_gpt_syscall_text) are the
 * range the kernel always lets through. */
    .section gpt_syscall_text,"ax",@progbits

/* long gpt_raw_syscall(long nr, long a, long b, long c, long d, long e, long f)
 * -> the kernel's result (-errno on error). */
    .globl gpt_raw_syscall
    .hidden gpt_raw_syscall
    .type gpt_raw_syscall, @function
gpt_raw_syscall:
    .cfi_startproc
    mov %rdi, %rax
    mov %rsi, %rdi
    mov %rdx, %rsi
    mov %rcx, %rdx
    mov %r8, %r10
    mov %r9, %r8
    mov 8(%rsp), %r9
    syscall
    ret
    .cfi_endproc
    .size gpt_raw_syscall, .-gpt_raw_syscall

/* The restorer of every signal handler gpthread installs: rt_sigreturn
 * from here is never trapped (the libc's restorer would be). */
    .globl gpt_signal_restorer
    .hidden gpt_signal_restorer
    .type gpt_signal_restorer, @function
gpt_signal_restorer:
    mov $15, %eax
    syscall
    hlt
    .size gpt_signal_restorer, .-gpt_signal_restorer

    .section .note.GNU-stack,"",@progbits
