/* The window of a cancellable system call (cancel_point.h). Not in
 * gpt_syscall_text: on nodes that forward the program's calls this call
 * is trapped and forwarded like the libc's.
 *
 * long gpt_cancellable_syscall(const uint32_t* word, long nr,
 *                              long a, long b, long c, long d, long e, long f)
 * No stack is used between begin and the syscall: the exit returns to the
 * caller from any point of the window. */
    .text
    .globl gpt_cancellable_syscall
    .hidden gpt_cancellable_syscall
    .globl gpt_cancel_window_begin
    .hidden gpt_cancel_window_begin
    .globl gpt_cancel_window_end
    .hidden gpt_cancel_window_end
    .globl gpt_cancel_window_exit
    .hidden gpt_cancel_window_exit
    .type gpt_cancellable_syscall, @function
gpt_cancellable_syscall:
    .cfi_startproc
gpt_cancel_window_begin:
    mov (%rdi), %eax
    and $13, %eax            /* pending | disabled | acting */
    cmp $4, %eax             /* pending alone: due */
    je gpt_cancel_window_exit
    mov %rsi, %rax
    mov %rdx, %rdi
    mov %rcx, %rsi
    mov %r8, %rdx
    mov %r9, %r10
    mov 8(%rsp), %r8
    mov 16(%rsp), %r9
    syscall
gpt_cancel_window_end:
    ret
gpt_cancel_window_exit:
    mov $-125, %rax          /* -ECANCELED */
    ret
    .cfi_endproc
    .size gpt_cancellable_syscall, .-gpt_cancellable_syscall

    .section .note.GNU-stack,"",@progbits
