#include "go_asm.h"
#include "textflag.h"

// func scanAVX2(t *teddy, b []byte, masks []uint64) (rounds int, esc bool)
//
// Teddy, 64 bytes (two 32-byte blocks) a round: byte position i is a
// candidate when, for some bucket, byte i is a quote and the bucket holds
// literals that begin a string, or (when some literal may sit anywhere)
// both nibbles of byte i are in the bucket's byte-0 tables; and each of
// the bytes i+1..i+3 has both its nibbles in the bucket's tables
// (teddy.go). Writes each round's candidates as a bit mask in masks, for
// up to len(masks) rounds while the loads stay inside b (64*rounds+3 <=
// len(b)), and returns how many. esc reports a backslash anywhere in the
// rounds scanned.
//
// Registers: AX t, SI b, CX the round's offset, DX the last offset a round
// may start at, R8 masks, R9 rounds, R10 len(masks); Y8-Y15 the tables of
// bytes 3..0 (high nibble, low nibble), Y7 0x0f in each byte, Y6 '\' in
// each byte, Y5 the backslashes seen, Y4 zero, Y0 a block's buckets, Y1-Y2
// scratch.

// QUOTE(off): Y0 = 0xff where the byte at off is a quote; Y1 = the bytes;
// notes backslashes.
#define QUOTE(off) \
	VMOVDQU  off(SI)(CX*1), Y1; \
	VPCMPEQB Y1, Y6, Y2; \
	VPOR     Y2, Y5, Y5; \
	VPCMPEQB teddy_quote(AX), Y1, Y0

// NIBBLES(lo, hi): Y1 = the buckets holding both nibbles of each byte of Y1.
#define NIBBLES(lo, hi) \
	VPSRLW  $4, Y1, Y2; \
	VPAND   Y7, Y1, Y1; \
	VPAND   Y7, Y2, Y2; \
	VPSHUFB Y1, lo, Y1; \
	VPSHUFB Y2, hi, Y2; \
	VPAND   Y1, Y2, Y1

// ANYWHERE: byte 0 also by its nibbles (Y1 its bytes, after QUOTE).
#define ANYWHERE \
	VPAND teddy_anchored(AX), Y0, Y0; \
	NIBBLES(Y15, Y14); \
	VPOR  Y1, Y0, Y0

// NEXT(off, lo, hi): keeps in Y0 the buckets that hold the byte at off.
#define NEXT(off, lo, hi) \
	VMOVDQU off(SI)(CX*1), Y1; \
	NIBBLES(lo, hi); \
	VPAND   Y1, Y0, Y0

// MASK(r): r = a bit for each byte of Y0 in no bucket (inverted below).
#define MASK(r) \
	VPCMPEQB  Y4, Y0, Y0; \
	VPMOVMSKB Y0, r

// STORE(loop): writes the round's mask, and goes on while rounds and
// bytes last. 32-bit NOTs clear the upper halves.
#define STORE(loop) \
	NOTL BX; \
	NOTL DI; \
	SHLQ $32, DI; \
	ORQ  DI, BX; \
	MOVQ BX, (R8)(R9*8); \
	INCQ R9; \
	ADDQ $64, CX; \
	CMPQ R9, R10; \
	JEQ  done; \
	CMPQ CX, DX; \
	JLE  loop; \
	JMP  done

// Ask for the bytes four rounds ahead: the scan's work then overlaps the
// memory's latency (records of a fresh chunk are rarely in cache).
#define PREFETCH \
	PREFETCHT0 256(SI)(CX*1); \
	PREFETCHT0 320(SI)(CX*1)

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
	VMOVDQU 0(AX), Y15
	VMOVDQU 32(AX), Y14
	VMOVDQU 64(AX), Y13
	VMOVDQU 96(AX), Y12
	VMOVDQU 128(AX), Y11
	VMOVDQU 160(AX), Y10
	VMOVDQU 192(AX), Y9
	VMOVDQU 224(AX), Y8
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
	JNE  anywhere

	// Every literal begins a string: byte 0 is a quote.
quotes:
	PREFETCH
	QUOTE(0)
	NEXT(1, Y13, Y12)
	NEXT(2, Y11, Y10)
	NEXT(3, Y9, Y8)
	MASK(BX)
	QUOTE(32)
	NEXT(33, Y13, Y12)
	NEXT(34, Y11, Y10)
	NEXT(35, Y9, Y8)
	MASK(DI)
	STORE(quotes)

	// Some literals may sit anywhere.
anywhere:
	PREFETCH
	QUOTE(0)
	ANYWHERE
	NEXT(1, Y13, Y12)
	NEXT(2, Y11, Y10)
	NEXT(3, Y9, Y8)
	MASK(BX)
	QUOTE(32)
	ANYWHERE
	NEXT(33, Y13, Y12)
	NEXT(34, Y11, Y10)
	NEXT(35, Y9, Y8)
	MASK(DI)
	STORE(anywhere)

done:
	VPTEST    Y5, Y5
	SETNE     AL
	VZEROUPPER
	MOVQ R9, rounds+56(FP)
	MOVB AL, esc+64(FP)
	RET
