#include "textflag.h"

// func scanAVX2(t *nibbles, b []byte) (off int, mask uint32)
//
// Teddy over the three bytes after each quote: for each 32-byte block,
// a byte position is a candidate when it holds '"' and, for some bucket,
// each of the next three bytes has both its nibbles in that bucket's
// tables. Returns the first block with a candidate and their bit mask, or
// the offset of the first block not scanned and mask 0. Blocks are taken
// while the loads stay inside b (off+35 <= len(b)).
TEXT ·scanAVX2(SB), NOSPLIT, $0-44
	MOVQ t+0(FP), AX
	MOVQ b_base+8(FP), SI
	MOVQ b_len+16(FP), DX
	XORQ CX, CX
	SUBQ $35, DX
	JL   none
	VMOVDQU 0(AX), Y8
	VMOVDQU 32(AX), Y9
	VMOVDQU 64(AX), Y10
	VMOVDQU 96(AX), Y11
	VMOVDQU 128(AX), Y12
	VMOVDQU 160(AX), Y13
	MOVL $0x0f0f0f0f, BX
	VMOVD BX, X14
	VPBROADCASTD X14, Y14
	MOVL $0x22222222, BX
	VMOVD BX, X15
	VPBROADCASTD X15, Y15
	VPXOR Y7, Y7, Y7

loop:
	VPCMPEQB (SI)(CX*1), Y15, Y0

	VMOVDQU 1(SI)(CX*1), Y1
	VPSRLW  $4, Y1, Y2
	VPAND   Y14, Y1, Y1
	VPAND   Y14, Y2, Y2
	VPSHUFB Y1, Y8, Y1
	VPSHUFB Y2, Y9, Y2
	VPAND   Y1, Y2, Y1
	VPAND   Y1, Y0, Y0

	VMOVDQU 2(SI)(CX*1), Y3
	VPSRLW  $4, Y3, Y4
	VPAND   Y14, Y3, Y3
	VPAND   Y14, Y4, Y4
	VPSHUFB Y3, Y10, Y3
	VPSHUFB Y4, Y11, Y4
	VPAND   Y3, Y4, Y3
	VPAND   Y3, Y0, Y0

	VMOVDQU 3(SI)(CX*1), Y5
	VPSRLW  $4, Y5, Y6
	VPAND   Y14, Y5, Y5
	VPAND   Y14, Y6, Y6
	VPSHUFB Y5, Y12, Y5
	VPSHUFB Y6, Y13, Y6
	VPAND   Y5, Y6, Y5
	VPAND   Y5, Y0, Y0

	VPCMPEQB  Y7, Y0, Y0
	VPMOVMSKB Y0, BX
	NOTL      BX
	TESTL     BX, BX
	JNZ       found
	ADDQ      $32, CX
	CMPQ      CX, DX
	JLE       loop

none:
	VZEROUPPER
	MOVQ CX, off+32(FP)
	MOVL $0, mask+40(FP)
	RET

found:
	VZEROUPPER
	MOVQ CX, off+32(FP)
	MOVL BX, mask+40(FP)
	RET
