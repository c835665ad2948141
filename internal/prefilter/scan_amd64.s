#include "go_asm.h"
#include "textflag.h"

// func scanAVX2(t *teddy, b []byte, masks []uint64) (rounds int, esc bool)
//
// Teddy, 64 bytes (two 32-byte blocks) a round: byte position i is a
// candidate when, for some bucket, byte i is a quote and the bucket holds
// literals that begin a string, or (when some literal may sit anywhere)
// both its nibbles are in the bucket's byte-0 tables; and each of the
// bytes i+1..i+3 has both its nibbles in the bucket's tables (teddy.go).
// Writes each round's candidates as a bit mask in masks, for up to
// len(masks) rounds while the loads stay inside b (64*rounds+3 <=
// len(b)), and returns how many. esc reports a backslash anywhere in the
// rounds scanned.
TEXT ·scanAVX2(SB), NOSPLIT, $0-65
	MOVQ t+0(FP), AX
	MOVQ b_base+8(FP), SI
	MOVQ b_len+16(FP), DX
	MOVQ masks_base+32(FP), R8
	MOVQ masks_len+40(FP), R10
	XORQ CX, CX
	XORQ R9, R9
	VPXOR Y5, Y5, Y5
	SUBQ $67, DX
	JL   done
	TESTQ R10, R10
	JEQ  done
	// VEX moves only: a legacy SSE instruction here costs a state
	// transition that made the scan five times slower.
	MOVL $0x0f0f0f0f, DI
	VMOVD DI, X7
	VPBROADCASTD X7, Y7
	MOVL $0x5c5c5c5c, DI
	VMOVD DI, X6
	VPBROADCASTD X6, Y6
	VPXOR Y4, Y4, Y4
	CMPB teddy_subs(AX), $0
	JNE  subs
	VMOVDQU 64(AX), Y13
	VMOVDQU 96(AX), Y12
	VMOVDQU 128(AX), Y11
	VMOVDQU 160(AX), Y10
	VMOVDQU 192(AX), Y9
	VMOVDQU 224(AX), Y8

quotes:
	// Ask for the bytes four rounds ahead: the scan's work then overlaps
	// the memory's latency (records of a fresh chunk are rarely in cache).
	PREFETCHT0 256(SI)(CX*1)
	PREFETCHT0 320(SI)(CX*1)
	VMOVDQU   0(SI)(CX*1), Y1
	VPCMPEQB  Y1, Y6, Y2
	VPOR      Y2, Y5, Y5
	VPCMPEQB  teddy_quote(AX), Y1, Y0
	VMOVDQU   1(SI)(CX*1), Y1
	VPSRLW    $4, Y1, Y2
	VPAND     Y7, Y1, Y1
	VPAND     Y7, Y2, Y2
	VPSHUFB   Y1, Y13, Y1
	VPSHUFB   Y2, Y12, Y2
	VPAND     Y1, Y2, Y1
	VPAND     Y1, Y0, Y0
	VMOVDQU   2(SI)(CX*1), Y1
	VPSRLW    $4, Y1, Y2
	VPAND     Y7, Y1, Y1
	VPAND     Y7, Y2, Y2
	VPSHUFB   Y1, Y11, Y1
	VPSHUFB   Y2, Y10, Y2
	VPAND     Y1, Y2, Y1
	VPAND     Y1, Y0, Y0
	VMOVDQU   3(SI)(CX*1), Y1
	VPSRLW    $4, Y1, Y2
	VPAND     Y7, Y1, Y1
	VPAND     Y7, Y2, Y2
	VPSHUFB   Y1, Y9, Y1
	VPSHUFB   Y2, Y8, Y2
	VPAND     Y1, Y2, Y1
	VPAND     Y1, Y0, Y0
	VPCMPEQB  Y4, Y0, Y0
	VPMOVMSKB Y0, BX
	VMOVDQU   32(SI)(CX*1), Y1
	VPCMPEQB  Y1, Y6, Y2
	VPOR      Y2, Y5, Y5
	VPCMPEQB  teddy_quote(AX), Y1, Y0
	VMOVDQU   33(SI)(CX*1), Y1
	VPSRLW    $4, Y1, Y2
	VPAND     Y7, Y1, Y1
	VPAND     Y7, Y2, Y2
	VPSHUFB   Y1, Y13, Y1
	VPSHUFB   Y2, Y12, Y2
	VPAND     Y1, Y2, Y1
	VPAND     Y1, Y0, Y0
	VMOVDQU   34(SI)(CX*1), Y1
	VPSRLW    $4, Y1, Y2
	VPAND     Y7, Y1, Y1
	VPAND     Y7, Y2, Y2
	VPSHUFB   Y1, Y11, Y1
	VPSHUFB   Y2, Y10, Y2
	VPAND     Y1, Y2, Y1
	VPAND     Y1, Y0, Y0
	VMOVDQU   35(SI)(CX*1), Y1
	VPSRLW    $4, Y1, Y2
	VPAND     Y7, Y1, Y1
	VPAND     Y7, Y2, Y2
	VPSHUFB   Y1, Y9, Y1
	VPSHUFB   Y2, Y8, Y2
	VPAND     Y1, Y2, Y1
	VPAND     Y1, Y0, Y0
	VPCMPEQB  Y4, Y0, Y0
	VPMOVMSKB Y0, DI
	NOTL  BX
	NOTL  DI
	SHLQ  $32, DI
	ORQ   DI, BX
	MOVQ  BX, (R8)(R9*8)
	INCQ  R9
	ADDQ  $64, CX
	CMPQ  R9, R10
	JEQ   done
	CMPQ  CX, DX
	JLE   quotes
	JMP   done

subs:
	VMOVDQU 0(AX), Y15
	VMOVDQU 32(AX), Y14
	VMOVDQU 64(AX), Y13
	VMOVDQU 96(AX), Y12
	VMOVDQU 128(AX), Y11
	VMOVDQU 160(AX), Y10
	VMOVDQU 192(AX), Y9
	VMOVDQU 224(AX), Y8

anywhere:
	// Ask for the bytes four rounds ahead: the scan's work then overlaps
	// the memory's latency (records of a fresh chunk are rarely in cache).
	PREFETCHT0 256(SI)(CX*1)
	PREFETCHT0 320(SI)(CX*1)
	VMOVDQU   0(SI)(CX*1), Y1
	VPCMPEQB  Y1, Y6, Y2
	VPOR      Y2, Y5, Y5
	VPCMPEQB  teddy_quote(AX), Y1, Y0
	VPAND     teddy_anchored(AX), Y0, Y0
	VPSRLW    $4, Y1, Y2
	VPAND     Y7, Y1, Y1
	VPAND     Y7, Y2, Y2
	VPSHUFB   Y1, Y15, Y1
	VPSHUFB   Y2, Y14, Y2
	VPAND     Y1, Y2, Y1
	VPOR      Y1, Y0, Y0
	VMOVDQU   1(SI)(CX*1), Y1
	VPSRLW    $4, Y1, Y2
	VPAND     Y7, Y1, Y1
	VPAND     Y7, Y2, Y2
	VPSHUFB   Y1, Y13, Y1
	VPSHUFB   Y2, Y12, Y2
	VPAND     Y1, Y2, Y1
	VPAND     Y1, Y0, Y0
	VMOVDQU   2(SI)(CX*1), Y1
	VPSRLW    $4, Y1, Y2
	VPAND     Y7, Y1, Y1
	VPAND     Y7, Y2, Y2
	VPSHUFB   Y1, Y11, Y1
	VPSHUFB   Y2, Y10, Y2
	VPAND     Y1, Y2, Y1
	VPAND     Y1, Y0, Y0
	VMOVDQU   3(SI)(CX*1), Y1
	VPSRLW    $4, Y1, Y2
	VPAND     Y7, Y1, Y1
	VPAND     Y7, Y2, Y2
	VPSHUFB   Y1, Y9, Y1
	VPSHUFB   Y2, Y8, Y2
	VPAND     Y1, Y2, Y1
	VPAND     Y1, Y0, Y0
	VPCMPEQB  Y4, Y0, Y0
	VPMOVMSKB Y0, BX
	VMOVDQU   32(SI)(CX*1), Y1
	VPCMPEQB  Y1, Y6, Y2
	VPOR      Y2, Y5, Y5
	VPCMPEQB  teddy_quote(AX), Y1, Y0
	VPAND     teddy_anchored(AX), Y0, Y0
	VPSRLW    $4, Y1, Y2
	VPAND     Y7, Y1, Y1
	VPAND     Y7, Y2, Y2
	VPSHUFB   Y1, Y15, Y1
	VPSHUFB   Y2, Y14, Y2
	VPAND     Y1, Y2, Y1
	VPOR      Y1, Y0, Y0
	VMOVDQU   33(SI)(CX*1), Y1
	VPSRLW    $4, Y1, Y2
	VPAND     Y7, Y1, Y1
	VPAND     Y7, Y2, Y2
	VPSHUFB   Y1, Y13, Y1
	VPSHUFB   Y2, Y12, Y2
	VPAND     Y1, Y2, Y1
	VPAND     Y1, Y0, Y0
	VMOVDQU   34(SI)(CX*1), Y1
	VPSRLW    $4, Y1, Y2
	VPAND     Y7, Y1, Y1
	VPAND     Y7, Y2, Y2
	VPSHUFB   Y1, Y11, Y1
	VPSHUFB   Y2, Y10, Y2
	VPAND     Y1, Y2, Y1
	VPAND     Y1, Y0, Y0
	VMOVDQU   35(SI)(CX*1), Y1
	VPSRLW    $4, Y1, Y2
	VPAND     Y7, Y1, Y1
	VPAND     Y7, Y2, Y2
	VPSHUFB   Y1, Y9, Y1
	VPSHUFB   Y2, Y8, Y2
	VPAND     Y1, Y2, Y1
	VPAND     Y1, Y0, Y0
	VPCMPEQB  Y4, Y0, Y0
	VPMOVMSKB Y0, DI
	NOTL  BX
	NOTL  DI
	SHLQ  $32, DI
	ORQ   DI, BX
	MOVQ  BX, (R8)(R9*8)
	INCQ  R9
	ADDQ  $64, CX
	CMPQ  R9, R10
	JEQ   done
	CMPQ  CX, DX
	JLE   anywhere
	JMP   done

done:
	VPTEST    Y5, Y5
	SETNE     AL
	VZEROUPPER
	MOVQ R9, rounds+56(FP)
	MOVB AL, esc+64(FP)
	RET
