/* void gpt_call_on_private(void* top, void (*fn)(void*), void* arg)
 * Calls fn(arg) with the stack pointer at `top`. release() runs this way
 * when the thread's stack is global memory: it write-protects dirty pages,
 * and its own stack page must not be among the pages it is writing to. */
    .text
    .globl gpt_call_on_private
    .hidden gpt_call_on_private
    .type gpt_call_on_private, @function
gpt_call_on_private:
    .cfi_startproc
    push %rbp
    .cfi_def_cfa_offset 16
    .cfi_offset %rbp, -16
    mov %rsp, %rbp
    .cfi_def_cfa_register %rbp
    mov %rdi, %rsp
    mov %rdx, %rdi
    call *%rsi
    mov %rbp, %rsp
    pop %rbp
    .cfi_def_cfa %rsp, 8
    ret
    .cfi_endproc
    .size gpt_call_on_private, .-gpt_call_on_private
    .section .note.GNU-stack,"",@progbits
