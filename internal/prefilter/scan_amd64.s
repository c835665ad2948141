#include "textflag.h"

// func scanAVX2(t *nibbles, b []byte) (off int, mask uint64, esc bool)
//
// Teddy over the three bytes after each quote, 64 bytes (two 32-byte
// blocks) a round: a byte position is a candidate when it holds '"' and,
// for some bucket, each of the next three bytes has both its nibbles in
// that bucket's tables. Returns the first round with a candidate and their
// bit mask, or the offset of the first round not scanned and mask 0.
// Rounds are taken while the loads stay inside b (off+67 <= len(b)). esc
// reports a backslash anywhere in the rounds scanned.
TEXT ·scanAVX2(SB), NOSPLIT, $0-49
	MOVQ t+0(FP), AX
	MOVQ b_base+8(FP), SI
	MOVQ b_len+16(FP), DX
	XORQ CX, CX
	XORQ BX, BX
	VPXOR Y5, Y5, Y5
	SUBQ $67, DX
	JL   done
	VMOVDQU 0(AX), Y8
	VMOVDQU 32(AX), Y9
	VMOVDQU 64(AX), Y10
	VMOVDQU 96(AX), Y11
	VMOVDQU 128(AX), Y12
	VMOVDQU 160(AX), Y13
	// VEX moves only: a legacy SSE instruction here costs a state
	// transition that made the scan five times slower.
	MOVL $0x0f0f0f0f, DI
	VMOVD DI, X14
	VPBROADCASTD X14, Y14
	MOVL $0x22222222, DI
	VMOVD DI, X15
	VPBROADCASTD X15, Y15
	MOVL $0x5c5c5c5c, DI
	VMOVD DI, X6
	VPBROADCASTD X6, Y6
	VPXOR Y7, Y7, Y7

loop:
	// Ask for the bytes four rounds ahead: the scan's work then overlaps
	// the memory's latency (records of a fresh chunk are rarely in cache).
	PREFETCHT0 256(SI)(CX*1)
	PREFETCHT0 320(SI)(CX*1)
	// Block one: bytes CX..CX+31.
	VMOVDQU   (SI)(CX*1), Y0
	VPCMPEQB  Y0, Y6, Y1
	VPOR      Y1, Y5, Y5
	VPCMPEQB  Y0, Y15, Y0
	VMOVDQU   1(SI)(CX*1), Y1
	VPSRLW    $4, Y1, Y2
	VPAND     Y14, Y1, Y1
	VPAND     Y14, Y2, Y2
	VPSHUFB   Y1, Y8, Y1
	VPSHUFB   Y2, Y9, Y2
	VPAND     Y1, Y2, Y1
	VPAND     Y1, Y0, Y0
	VMOVDQU   2(SI)(CX*1), Y1
	VPSRLW    $4, Y1, Y2
	VPAND     Y14, Y1, Y1
	VPAND     Y14, Y2, Y2
	VPSHUFB   Y1, Y10, Y1
	VPSHUFB   Y2, Y11, Y2
	VPAND     Y1, Y2, Y1
	VPAND     Y1, Y0, Y0
	VMOVDQU   3(SI)(CX*1), Y1
	VPSRLW    $4, Y1, Y2
	VPAND     Y14, Y1, Y1
	VPAND     Y14, Y2, Y2
	VPSHUFB   Y1, Y12, Y1
	VPSHUFB   Y2, Y13, Y2
	VPAND     Y1, Y2, Y1
	VPAND     Y1, Y0, Y0
	VPCMPEQB  Y7, Y0, Y0
	VPMOVMSKB Y0, BX

	// Block two: bytes CX+32..CX+63.
	VMOVDQU   32(SI)(CX*1), Y3
	VPCMPEQB  Y3, Y6, Y4
	VPOR      Y4, Y5, Y5
	VPCMPEQB  Y3, Y15, Y3
	VMOVDQU   33(SI)(CX*1), Y4
	VPSRLW    $4, Y4, Y2
	VPAND     Y14, Y4, Y4
	VPAND     Y14, Y2, Y2
	VPSHUFB   Y4, Y8, Y4
	VPSHUFB   Y2, Y9, Y2
	VPAND     Y4, Y2, Y4
	VPAND     Y4, Y3, Y3
	VMOVDQU   34(SI)(CX*1), Y4
	VPSRLW    $4, Y4, Y2
	VPAND     Y14, Y4, Y4
	VPAND     Y14, Y2, Y2
	VPSHUFB   Y4, Y10, Y4
	VPSHUFB   Y2, Y11, Y2
	VPAND     Y4, Y2, Y4
	VPAND     Y4, Y3, Y3
	VMOVDQU   35(SI)(CX*1), Y4
	VPSRLW    $4, Y4, Y2
	VPAND     Y14, Y4, Y4
	VPAND     Y14, Y2, Y2
	VPSHUFB   Y4, Y12, Y4
	VPSHUFB   Y2, Y13, Y2
	VPAND     Y4, Y2, Y4
	VPAND     Y4, Y3, Y3
	VPCMPEQB  Y7, Y3, Y3
	VPMOVMSKB Y3, DI

	// Zero bytes were marked: invert (32-bit ops clear the upper half).
	NOTL  BX
	NOTL  DI
	SHLQ  $32, DI
	ORQ   DI, BX
	JNZ   done
	ADDQ  $64, CX
	CMPQ  CX, DX
	JLE   loop

done:
	VPTEST    Y5, Y5
	SETNE     AL
	VZEROUPPER
	MOVQ CX, off+32(FP)
	MOVQ BX, mask+40(FP)
	MOVB AL, esc+48(FP)
	RET
