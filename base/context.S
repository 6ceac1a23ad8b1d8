/* Context switching for threads that move between nodes (context.h).
 * struct Context: rbx 0, rbp 8, r12 16, r13 24, r14 32, r15 40, rsp 48,
 * rip 56, canary 64, mxcsr 72, x87 control word 76. */
    .text
    .globl gpt_context_save
    .hidden gpt_context_save
    .type gpt_context_save, @function
gpt_context_save:
    .cfi_startproc
    mov %rbx, 0(%rdi)
    mov %rbp, 8(%rdi)
    mov %r12, 16(%rdi)
    mov %r13, 24(%rdi)
    mov %r14, 32(%rdi)
    mov %r15, 40(%rdi)
    lea 8(%rsp), %rdx          /* the caller's stack pointer after we return */
    mov %rdx, 48(%rdi)
    mov (%rsp), %rdx           /* our return address */
    mov %rdx, 56(%rdi)
    mov %fs:0x28, %rdx
    mov %rdx, 64(%rdi)
    stmxcsr 72(%rdi)
    fnstcw 76(%rdi)
    xor %eax, %eax
    ret
    .cfi_endproc
    .size gpt_context_save, .-gpt_context_save

    .globl gpt_context_jump
    .hidden gpt_context_jump
    .type gpt_context_jump, @function
gpt_context_jump:
    .cfi_startproc
    mov 64(%rdi), %rdx
    mov %rdx, %fs:0x28
    ldmxcsr 72(%rdi)
    fldcw 76(%rdi)
    mov 0(%rdi), %rbx
    mov 8(%rdi), %rbp
    mov 16(%rdi), %r12
    mov 24(%rdi), %r13
    mov 32(%rdi), %r14
    mov 40(%rdi), %r15
    mov 48(%rdi), %rsp
    mov %esi, %eax
    test %eax, %eax
    jnz 1f
    inc %eax                   /* as longjmp: a jump never returns 0 */
1:  jmp *56(%rdi)
    .cfi_endproc
    .size gpt_context_jump, .-gpt_context_jump

    .globl gpt_start_on_stack
    .hidden gpt_start_on_stack
    .type gpt_start_on_stack, @function
gpt_start_on_stack:
    .cfi_startproc
    .cfi_undefined rip         /* outermost frame: backtraces and glibc's
                                  forced unwind (pthread_exit) end here */
    mov %rdi, %rsp
    xor %ebp, %ebp
    mov %rdx, %rdi
    call *%rsi
    ud2
    .cfi_endproc
    .size gpt_start_on_stack, .-gpt_start_on_stack
    .section .note.GNU-stack,"",@progbits
