;; Kernels of the WebAssembly backend, in the text format.
;;
;; This is the only source of core/backend/kernels_relaxed.wasm and kernels_simd.wasm:
;; `deno task build:wasm` assembles it twice. The relaxed build keeps every
;; `f32x4.relaxed_madd a b c` (a·b + c, fused where the CPU has FMA); the plain SIMD128
;; build rewrites each one into `f32x4.add (f32x4.mul a b) c` for engines without relaxed SIMD.
;;
;; All pointers are byte offsets into the shared memory; all strides are in bytes.
;; Lengths and sizes are element counts. Float32 throughout; sums accumulate in float32.

(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; ---------------------------------------------------------------------------------------
  ;; Matrix product C [M, N] = op(A) [M, K] · op(B) [K, N]  (or C += … when $accumulate)
  ;;
  ;; A transpose is a choice of strides: op(A)[i, p] is at a + i·ars + p·acs.
  ;; The columns of C are cut into panels of 8; a thread computes panels [jp0, jp1), so two
  ;; threads split one product without sharing any output. Each panel of op(B) is read in
  ;; place when its 8 columns are contiguous, and otherwise packed into scratch as [K, 8]
  ;; (zero-padded past N). Rows are done 4 at a time by $tile4, then one at a time by $tile1.
  ;;
  ;; scratch: per-thread memory of at least 128 + 32·K bytes (a 4×8 tile, then the packed panel).
  ;; ---------------------------------------------------------------------------------------
  (func (export "matmul")
    (param $a i32) (param $ars i32) (param $acs i32)
    (param $b i32) (param $brs i32) (param $bcs i32)
    (param $c i32) (param $m i32) (param $n i32) (param $k i32)
    (param $accumulate i32) (param $jp0 i32) (param $jp1 i32) (param $scratch i32)
    (local $jp i32) (local $j i32) (local $width i32) (local $panel i32) (local $prs i32)
    (local $i i32) (local $p i32) (local $jj i32) (local $dst i32) (local $src i32)
    (local $crs i32)

    (local.set $crs (i32.shl (local.get $n) (i32.const 2)))
    (local.set $jp (local.get $jp0))
    (block $panels_done
      (loop $panels
        (br_if $panels_done (i32.ge_u (local.get $jp) (local.get $jp1)))
        (local.set $j (i32.shl (local.get $jp) (i32.const 3)))
        (local.set $width (i32.sub (local.get $n) (local.get $j)))
        (if (i32.gt_u (local.get $width) (i32.const 8)) (then (local.set $width (i32.const 8))))

        ;; Read the panel in place when its 8 columns are contiguous, else pack it.
        (if (i32.and (i32.eq (local.get $bcs) (i32.const 4)) (i32.eq (local.get $width) (i32.const 8)))
          (then
            (local.set $panel (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))
            (local.set $prs (local.get $brs)))
          (else
            (local.set $panel (i32.add (local.get $scratch) (i32.const 128)))
            (local.set $prs (i32.const 32))
            (local.set $dst (local.get $panel))
            (local.set $p (i32.const 0))
            (block $pack_done
              (loop $pack
                (br_if $pack_done (i32.ge_u (local.get $p) (local.get $k)))
                (v128.store (local.get $dst) (v128.const i32x4 0 0 0 0))
                (v128.store offset=16 (local.get $dst) (v128.const i32x4 0 0 0 0))
                (local.set $src
                  (i32.add (i32.add (local.get $b) (i32.mul (local.get $p) (local.get $brs)))
                    (i32.mul (local.get $j) (local.get $bcs))))
                (local.set $jj (i32.const 0))
                (block $row_done
                  (loop $row
                    (br_if $row_done (i32.ge_u (local.get $jj) (local.get $width)))
                    (f32.store
                      (i32.add (local.get $dst) (i32.shl (local.get $jj) (i32.const 2)))
                      (f32.load (local.get $src)))
                    (local.set $src (i32.add (local.get $src) (local.get $bcs)))
                    (local.set $jj (i32.add (local.get $jj) (i32.const 1)))
                    (br $row)))
                (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
                (local.set $p (i32.add (local.get $p) (i32.const 1)))
                (br $pack)))))

        ;; Rows four at a time, then the remainder one at a time.
        (local.set $i (i32.const 0))
        (block $rows4_done
          (loop $rows4
            (br_if $rows4_done (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $m)))
            (call $tile4
              (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $ars))) (local.get $ars)
              (local.get $acs) (local.get $panel) (local.get $prs) (local.get $k)
              (i32.add (local.get $c)
                (i32.add (i32.mul (local.get $i) (local.get $crs)) (i32.shl (local.get $j) (i32.const 2))))
              (local.get $crs) (local.get $accumulate) (local.get $width) (local.get $scratch))
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (br $rows4)))
        (block $rows1_done
          (loop $rows1
            (br_if $rows1_done (i32.ge_u (local.get $i) (local.get $m)))
            (call $tile1
              (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $ars)))
              (local.get $acs) (local.get $panel) (local.get $prs) (local.get $k)
              (i32.add (local.get $c)
                (i32.add (i32.mul (local.get $i) (local.get $crs)) (i32.shl (local.get $j) (i32.const 2))))
              (local.get $accumulate) (local.get $width) (local.get $scratch))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $rows1)))

        (local.set $jp (i32.add (local.get $jp) (i32.const 1)))
        (br $panels)))
  )

  ;; C[0:4, 0:width] (+)= A[0:4, :] · P[:, 0:width] for a panel P [K, 8] with row stride prs.
  ;; Eight accumulators hold the 4×8 tile; each step broadcasts one A value per row.
  (func $tile4
    (param $pa i32) (param $ars i32) (param $acs i32) (param $pb i32) (param $prs i32) (param $k i32)
    (param $pc i32) (param $crs i32) (param $accumulate i32) (param $width i32) (param $tile i32)
    (local $pa1 i32) (local $pa2 i32) (local $pa3 i32) (local $end i32)
    (local $b0 v128) (local $b1 v128) (local $x v128)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)

    (local.set $pa1 (i32.add (local.get $pa) (local.get $ars)))
    (local.set $pa2 (i32.add (local.get $pa1) (local.get $ars)))
    (local.set $pa3 (i32.add (local.get $pa2) (local.get $ars)))
    (local.set $end (i32.add (local.get $pb) (i32.mul (local.get $k) (local.get $prs))))
    (block $done
      (loop $step
        (br_if $done (i32.ge_u (local.get $pb) (local.get $end)))
        (local.set $b0 (v128.load (local.get $pb)))
        (local.set $b1 (v128.load offset=16 (local.get $pb)))
        (local.set $x (v128.load32_splat (local.get $pa)))
        (local.set $c00 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c00)))
        (local.set $c01 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c01)))
        (local.set $x (v128.load32_splat (local.get $pa1)))
        (local.set $c10 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c10)))
        (local.set $c11 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c11)))
        (local.set $x (v128.load32_splat (local.get $pa2)))
        (local.set $c20 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c20)))
        (local.set $c21 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c21)))
        (local.set $x (v128.load32_splat (local.get $pa3)))
        (local.set $c30 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c30)))
        (local.set $c31 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c31)))
        (local.set $pa (i32.add (local.get $pa) (local.get $acs)))
        (local.set $pa1 (i32.add (local.get $pa1) (local.get $acs)))
        (local.set $pa2 (i32.add (local.get $pa2) (local.get $acs)))
        (local.set $pa3 (i32.add (local.get $pa3) (local.get $acs)))
        (local.set $pb (i32.add (local.get $pb) (local.get $prs)))
        (br $step)))

    ;; A full tile goes straight to C; a ragged one goes through the scratch tile.
    (if (i32.eq (local.get $width) (i32.const 8))
      (then
        (call $store8 (local.get $pc) (local.get $c00) (local.get $c01) (local.get $accumulate))
        (call $store8 (i32.add (local.get $pc) (local.get $crs)) (local.get $c10) (local.get $c11)
          (local.get $accumulate))
        (call $store8 (i32.add (local.get $pc) (i32.shl (local.get $crs) (i32.const 1)))
          (local.get $c20) (local.get $c21) (local.get $accumulate))
        (call $store8 (i32.add (local.get $pc) (i32.mul (local.get $crs) (i32.const 3)))
          (local.get $c30) (local.get $c31) (local.get $accumulate)))
      (else
        (v128.store offset=0 (local.get $tile) (local.get $c00))
        (v128.store offset=16 (local.get $tile) (local.get $c01))
        (v128.store offset=32 (local.get $tile) (local.get $c10))
        (v128.store offset=48 (local.get $tile) (local.get $c11))
        (v128.store offset=64 (local.get $tile) (local.get $c20))
        (v128.store offset=80 (local.get $tile) (local.get $c21))
        (v128.store offset=96 (local.get $tile) (local.get $c30))
        (v128.store offset=112 (local.get $tile) (local.get $c31))
        (call $store_partial (local.get $tile) (local.get $pc) (local.get $crs) (i32.const 4)
          (local.get $width) (local.get $accumulate))))
  )

  ;; C[0, 0:width] (+)= A[0, :] · P[:, 0:width]: the one-row version of $tile4.
  (func $tile1
    (param $pa i32) (param $acs i32) (param $pb i32) (param $prs i32) (param $k i32)
    (param $pc i32) (param $accumulate i32) (param $width i32) (param $tile i32)
    (local $end i32) (local $x v128) (local $c0 v128) (local $c1 v128)

    (local.set $end (i32.add (local.get $pb) (i32.mul (local.get $k) (local.get $prs))))
    (block $done
      (loop $step
        (br_if $done (i32.ge_u (local.get $pb) (local.get $end)))
        (local.set $x (v128.load32_splat (local.get $pa)))
        (local.set $c0 (f32x4.relaxed_madd (local.get $x) (v128.load (local.get $pb)) (local.get $c0)))
        (local.set $c1
          (f32x4.relaxed_madd (local.get $x) (v128.load offset=16 (local.get $pb)) (local.get $c1)))
        (local.set $pa (i32.add (local.get $pa) (local.get $acs)))
        (local.set $pb (i32.add (local.get $pb) (local.get $prs)))
        (br $step)))

    (if (i32.eq (local.get $width) (i32.const 8))
      (then (call $store8 (local.get $pc) (local.get $c0) (local.get $c1) (local.get $accumulate)))
      (else
        (v128.store offset=0 (local.get $tile) (local.get $c0))
        (v128.store offset=16 (local.get $tile) (local.get $c1))
        (call $store_partial (local.get $tile) (local.get $pc) (i32.const 0) (i32.const 1)
          (local.get $width) (local.get $accumulate))))
  )

  ;; Store 8 contiguous floats at p, adding what is there when $accumulate.
  (func $store8 (param $p i32) (param $lo v128) (param $hi v128) (param $accumulate i32)
    (if (local.get $accumulate)
      (then
        (local.set $lo (f32x4.add (local.get $lo) (v128.load (local.get $p))))
        (local.set $hi (f32x4.add (local.get $hi) (v128.load offset=16 (local.get $p))))))
    (v128.store (local.get $p) (local.get $lo))
    (v128.store offset=16 (local.get $p) (local.get $hi))
  )

  ;; Copy the first $width columns of $rows rows of a tile (row stride 32 bytes) to C.
  (func $store_partial
    (param $tile i32) (param $pc i32) (param $crs i32) (param $rows i32) (param $width i32)
    (param $accumulate i32)
    (local $r i32) (local $jj i32) (local $src i32) (local $dst i32) (local $v f32)
    (block $rows_done
      (loop $row
        (br_if $rows_done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $src (i32.add (local.get $tile) (i32.shl (local.get $r) (i32.const 5))))
        (local.set $dst (i32.add (local.get $pc) (i32.mul (local.get $r) (local.get $crs))))
        (local.set $jj (i32.const 0))
        (block $cols_done
          (loop $col
            (br_if $cols_done (i32.ge_u (local.get $jj) (local.get $width)))
            (local.set $v (f32.load (i32.add (local.get $src) (i32.shl (local.get $jj) (i32.const 2)))))
            (if (local.get $accumulate)
              (then
                (local.set $v
                  (f32.add (local.get $v)
                    (f32.load (i32.add (local.get $dst) (i32.shl (local.get $jj) (i32.const 2))))))))
            (f32.store (i32.add (local.get $dst) (i32.shl (local.get $jj) (i32.const 2))) (local.get $v))
            (local.set $jj (i32.add (local.get $jj) (i32.const 1)))
            (br $col)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $row)))
  )

  ;; ---------------------------------------------------------------------------------------
  ;; Element-wise kernels. Each runs 4 lanes at a time, then a scalar tail.
  ;; ---------------------------------------------------------------------------------------

  ;; x[i, :] += b for every row of x [N, D].
  (func (export "add_row_vector") (param $x i32) (param $b i32) (param $n i32) (param $d i32)
    (local $i i32) (local $j i32) (local $row i32) (local $d4 i32)
    (local.set $d4 (i32.and (local.get $d) (i32.const -4)))
    (local.set $row (local.get $x))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $j (i32.const 0))
        (block $vec_done
          (loop $vec
            (br_if $vec_done (i32.ge_u (local.get $j) (local.get $d4)))
            (v128.store (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2)))
              (f32x4.add
                (v128.load (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
                (v128.load (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $vec)))
        (block $tail_done
          (loop $tail
            (br_if $tail_done (i32.ge_u (local.get $j) (local.get $d)))
            (f32.store (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2)))
              (f32.add
                (f32.load (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
                (f32.load (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $tail)))
        (local.set $row (i32.add (local.get $row) (i32.shl (local.get $d) (i32.const 2))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows)))
  )

  ;; out[j] = Σ_i x[i, j] for x [N, D] and out [D].
  (func (export "sum_rows") (param $x i32) (param $out i32) (param $n i32) (param $d i32)
    (local $i i32) (local $j i32) (local $row i32) (local $d4 i32) (local $o i32)
    (local.set $d4 (i32.and (local.get $d) (i32.const -4)))
    (memory.fill (local.get $out) (i32.const 0) (i32.shl (local.get $d) (i32.const 2)))
    (local.set $row (local.get $x))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $j (i32.const 0))
        (block $vec_done
          (loop $vec
            (br_if $vec_done (i32.ge_u (local.get $j) (local.get $d4)))
            (local.set $o (i32.add (local.get $out) (i32.shl (local.get $j) (i32.const 2))))
            (v128.store (local.get $o)
              (f32x4.add (v128.load (local.get $o))
                (v128.load (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $vec)))
        (block $tail_done
          (loop $tail
            (br_if $tail_done (i32.ge_u (local.get $j) (local.get $d)))
            (local.set $o (i32.add (local.get $out) (i32.shl (local.get $j) (i32.const 2))))
            (f32.store (local.get $o)
              (f32.add (f32.load (local.get $o))
                (f32.load (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $tail)))
        (local.set $row (i32.add (local.get $row) (i32.shl (local.get $d) (i32.const 2))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows)))
  )

  ;; y = max(x, 0). pmax(0, x) is (0 < x ? x : 0), so a NaN input gives 0 as in the reference.
  (func (export "relu") (param $x i32) (param $y i32) (param $len i32)
    (local $i i32) (local $end4 i32)
    (local.set $end4 (i32.shl (i32.and (local.get $len) (i32.const -4)) (i32.const 2)))
    (block $vec_done
      (loop $vec
        (br_if $vec_done (i32.ge_u (local.get $i) (local.get $end4)))
        (v128.store (i32.add (local.get $y) (local.get $i))
          (f32x4.pmax (v128.const f32x4 0 0 0 0) (v128.load (i32.add (local.get $x) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $vec)))
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $i) (i32.shl (local.get $len) (i32.const 2))))
        (f32.store (i32.add (local.get $y) (local.get $i))
          (select (f32.load (i32.add (local.get $x) (local.get $i))) (f32.const 0)
            (f32.gt (f32.load (i32.add (local.get $x) (local.get $i))) (f32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $tail)))
  )

  ;; dx = dy where y > 0, else 0.
  (func (export "relu_backward") (param $y i32) (param $dy i32) (param $dx i32) (param $len i32)
    (local $i i32) (local $end4 i32)
    (local.set $end4 (i32.shl (i32.and (local.get $len) (i32.const -4)) (i32.const 2)))
    (block $vec_done
      (loop $vec
        (br_if $vec_done (i32.ge_u (local.get $i) (local.get $end4)))
        (v128.store (i32.add (local.get $dx) (local.get $i))
          (v128.and (v128.load (i32.add (local.get $dy) (local.get $i)))
            (f32x4.gt (v128.load (i32.add (local.get $y) (local.get $i))) (v128.const f32x4 0 0 0 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $vec)))
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $i) (i32.shl (local.get $len) (i32.const 2))))
        (f32.store (i32.add (local.get $dx) (local.get $i))
          (select (f32.load (i32.add (local.get $dy) (local.get $i))) (f32.const 0)
            (f32.gt (f32.load (i32.add (local.get $y) (local.get $i))) (f32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $tail)))
  )

  ;; exp(x) for 4 lanes, as in Cephes expf: x = n·ln2 + r with |r| ≤ ln2/2, then
  ;; exp(x) = 2^n · (1 + r + r²·P(r)). The relative error is about 2e-7 over the clamped range.
  ;; Inputs below −87.33 give 0 (exp underflows float32 there); inputs above 88.37 give
  ;; exp(88.37) ≈ 2.7e38 instead of infinity; NaN gives NaN.
  (func $exp4 (param $x v128) (result v128)
    (local $n v128) (local $r v128) (local $p v128) (local $keep v128)

    ;; Clamp so 2^n stays a normal float: exp(88.37) is near FLT_MAX, exp(-87.33) near FLT_MIN.
    ;; $keep is "not below −87.33" rather than "at least −87.33", so a NaN lane stays NaN.
    (local.set $keep (v128.not
      (f32x4.lt (local.get $x) (v128.const f32x4 -87.33 -87.33 -87.33 -87.33))))
    (local.set $x (f32x4.min (local.get $x) (v128.const f32x4 88.37 88.37 88.37 88.37)))
    (local.set $x (f32x4.max (local.get $x) (v128.const f32x4 -87.33 -87.33 -87.33 -87.33)))

    ;; n = round(x / ln2); r = x − n·ln2, with ln2 split in two for precision.
    (local.set $n (f32x4.nearest
      (f32x4.mul (local.get $x) (v128.const f32x4 1.44269504 1.44269504 1.44269504 1.44269504))))
    (local.set $r (f32x4.sub (local.get $x)
      (f32x4.mul (local.get $n) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375))))
    (local.set $r (f32x4.sub (local.get $r)
      (f32x4.mul (local.get $n)
        (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))

    ;; P(r) by Horner's rule.
    (local.set $p (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
      (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
      (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
      (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
      (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
      (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
    (local.set $p (f32x4.add
      (f32x4.add (f32x4.mul (local.get $p) (f32x4.mul (local.get $r) (local.get $r))) (local.get $r))
      (v128.const f32x4 1 1 1 1)))

    ;; Scale by 2^n, built from its exponent bits: (n + 127) << 23; zero the underflowed lanes.
    (v128.and (local.get $keep)
      (f32x4.mul (local.get $p)
        (i32x4.shl
          (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $n)) (v128.const i32x4 127 127 127 127))
          (i32.const 23))))
  )

  ;; exp(x) of one float, through $exp4 so scalar tails match the vector lanes.
  (func $exp1 (param $x f32) (result f32)
    (f32x4.extract_lane 0 (call $exp4 (f32x4.splat (local.get $x))))
  )

  ;; y = 1 / (1 + exp(−x)).
  (func (export "sigmoid") (param $x i32) (param $y i32) (param $len i32)
    (local $i i32) (local $end4 i32)
    (local.set $end4 (i32.shl (i32.and (local.get $len) (i32.const -4)) (i32.const 2)))
    (block $vec_done
      (loop $vec
        (br_if $vec_done (i32.ge_u (local.get $i) (local.get $end4)))
        (v128.store (i32.add (local.get $y) (local.get $i))
          (f32x4.div (v128.const f32x4 1 1 1 1)
            (f32x4.add (v128.const f32x4 1 1 1 1)
              (call $exp4 (f32x4.neg (v128.load (i32.add (local.get $x) (local.get $i))))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $vec)))
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $i) (i32.shl (local.get $len) (i32.const 2))))
        (f32.store (i32.add (local.get $y) (local.get $i))
          (f32.div (f32.const 1)
            (f32.add (f32.const 1) (call $exp1 (f32.neg (f32.load (i32.add (local.get $x) (local.get $i))))))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $tail)))
  )

  ;; dx = dy · y · (1 − y).
  (func (export "sigmoid_backward") (param $y i32) (param $dy i32) (param $dx i32) (param $len i32)
    (local $i i32) (local $end4 i32) (local $s v128) (local $t f32)
    (local.set $end4 (i32.shl (i32.and (local.get $len) (i32.const -4)) (i32.const 2)))
    (block $vec_done
      (loop $vec
        (br_if $vec_done (i32.ge_u (local.get $i) (local.get $end4)))
        (local.set $s (v128.load (i32.add (local.get $y) (local.get $i))))
        (v128.store (i32.add (local.get $dx) (local.get $i))
          (f32x4.mul (v128.load (i32.add (local.get $dy) (local.get $i)))
            (f32x4.mul (local.get $s) (f32x4.sub (v128.const f32x4 1 1 1 1) (local.get $s)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $vec)))
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $i) (i32.shl (local.get $len) (i32.const 2))))
        (local.set $t (f32.load (i32.add (local.get $y) (local.get $i))))
        (f32.store (i32.add (local.get $dx) (local.get $i))
          (f32.mul (f32.load (i32.add (local.get $dy) (local.get $i)))
            (f32.mul (local.get $t) (f32.sub (f32.const 1) (local.get $t)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $tail)))
  )

  ;; σ(x) = 1 / (1 + exp(−x)) for 4 lanes.
  (func $sigmoid4 (param $x v128) (result v128)
    (f32x4.div (v128.const f32x4 1 1 1 1)
      (f32x4.add (v128.const f32x4 1 1 1 1) (call $exp4 (f32x4.neg (local.get $x)))))
  )

  ;; tanh(x) = 1 − 2 / (exp(2x) + 1) for 4 lanes: −1 and 1 at the ends of $exp4's clamped range.
  (func $tanh4 (param $x v128) (result v128)
    (f32x4.sub (v128.const f32x4 1 1 1 1)
      (f32x4.div (v128.const f32x4 2 2 2 2)
        (f32x4.add (call $exp4 (f32x4.add (local.get $x) (local.get $x)))
          (v128.const f32x4 1 1 1 1))))
  )

  ;; ---------------------------------------------------------------------------------------
  ;; One step of TensorFlow 1.x's LSTM cell on k rows of H units, once the pre-activations
  ;; z [k, 4H] (gates i, j, f, o, H columns each) are complete:
  ;;   z ← σ(i), tanh(j), σ(f + fb), σ(o)
  ;;   c = cprev·σ(f + fb) + σ(i)·tanh(j);  tc = tanh(c);  h = tc·σ(o)
  ;; cprev, c, tc and h are [k, H]. Units go 4 at a time, then one at a time through $lstm1,
  ;; which runs the same lane arithmetic on one float.
  ;; ---------------------------------------------------------------------------------------
  (func (export "lstm_cell")
    (param $z i32) (param $cprev i32) (param $c i32) (param $tc i32) (param $h i32)
    (param $k i32) (param $hs i32) (param $fb f32)
    (local $row i32) (local $j i32) (local $end4 i32) (local $end i32) (local $gate i32)
    (local $zi i32) (local $s i32) (local $fbv v128)
    (local $gi v128) (local $gj v128) (local $gf v128) (local $go v128) (local $cn v128) (local $t v128)
    (local.set $fbv (f32x4.splat (local.get $fb)))
    ;; Byte sizes: one gate block is H floats, a row of z is 4 blocks.
    (local.set $gate (i32.shl (local.get $hs) (i32.const 2)))
    (local.set $end (local.get $gate))
    (local.set $end4 (i32.shl (i32.and (local.get $hs) (i32.const -4)) (i32.const 2)))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $row) (local.get $k)))
        (local.set $zi (i32.add (local.get $z)
          (i32.mul (local.get $row) (i32.shl (local.get $gate) (i32.const 2)))))
        (local.set $s (i32.mul (local.get $row) (local.get $gate)))
        (local.set $j (i32.const 0))
        (block $vec_done
          (loop $vec
            (br_if $vec_done (i32.ge_u (local.get $j) (local.get $end4)))
            (local.set $gi (call $sigmoid4
              (v128.load (i32.add (local.get $zi) (local.get $j)))))
            (local.set $gj (call $tanh4
              (v128.load (i32.add (i32.add (local.get $zi) (local.get $gate)) (local.get $j)))))
            (local.set $gf (call $sigmoid4 (f32x4.add (local.get $fbv)
              (v128.load (i32.add (i32.add (local.get $zi) (i32.shl (local.get $gate) (i32.const 1)))
                (local.get $j))))))
            (local.set $go (call $sigmoid4
              (v128.load (i32.add (i32.add (local.get $zi) (i32.mul (local.get $gate) (i32.const 3)))
                (local.get $j)))))
            (v128.store (i32.add (local.get $zi) (local.get $j)) (local.get $gi))
            (v128.store (i32.add (i32.add (local.get $zi) (local.get $gate)) (local.get $j))
              (local.get $gj))
            (v128.store (i32.add (i32.add (local.get $zi) (i32.shl (local.get $gate) (i32.const 1)))
              (local.get $j)) (local.get $gf))
            (v128.store (i32.add (i32.add (local.get $zi) (i32.mul (local.get $gate) (i32.const 3)))
              (local.get $j)) (local.get $go))
            (local.set $cn (f32x4.add
              (f32x4.mul (v128.load (i32.add (local.get $cprev) (i32.add (local.get $s) (local.get $j))))
                (local.get $gf))
              (f32x4.mul (local.get $gi) (local.get $gj))))
            (local.set $t (call $tanh4 (local.get $cn)))
            (v128.store (i32.add (local.get $c) (i32.add (local.get $s) (local.get $j))) (local.get $cn))
            (v128.store (i32.add (local.get $tc) (i32.add (local.get $s) (local.get $j))) (local.get $t))
            (v128.store (i32.add (local.get $h) (i32.add (local.get $s) (local.get $j)))
              (f32x4.mul (local.get $t) (local.get $go)))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $vec)))
        (block $tail_done
          (loop $tail
            (br_if $tail_done (i32.ge_u (local.get $j) (local.get $end)))
            (call $lstm1 (i32.add (local.get $zi) (local.get $j)) (local.get $gate)
              (i32.add (local.get $s) (local.get $j))
              (local.get $cprev) (local.get $c) (local.get $tc) (local.get $h) (local.get $fbv))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $tail)))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $rows)))
  )

  ;; One unit of lstm_cell: $zi is the address of its i pre-activation, $gate the byte size of
  ;; a gate block, $s its byte offset in the [k, H] arrays. Each float goes through lane 0.
  (func $lstm1
    (param $zi i32) (param $gate i32) (param $s i32)
    (param $cprev i32) (param $c i32) (param $tc i32) (param $h i32) (param $fbv v128)
    (local $gi v128) (local $gj v128) (local $gf v128) (local $go v128) (local $cn v128) (local $t v128)
    (local.set $gi (call $sigmoid4 (f32x4.splat (f32.load (local.get $zi)))))
    (local.set $gj (call $tanh4 (f32x4.splat (f32.load (i32.add (local.get $zi) (local.get $gate))))))
    (local.set $gf (call $sigmoid4 (f32x4.add (local.get $fbv) (f32x4.splat
      (f32.load (i32.add (local.get $zi) (i32.shl (local.get $gate) (i32.const 1))))))))
    (local.set $go (call $sigmoid4 (f32x4.splat
      (f32.load (i32.add (local.get $zi) (i32.mul (local.get $gate) (i32.const 3)))))))
    (f32.store (local.get $zi) (f32x4.extract_lane 0 (local.get $gi)))
    (f32.store (i32.add (local.get $zi) (local.get $gate)) (f32x4.extract_lane 0 (local.get $gj)))
    (f32.store (i32.add (local.get $zi) (i32.shl (local.get $gate) (i32.const 1)))
      (f32x4.extract_lane 0 (local.get $gf)))
    (f32.store (i32.add (local.get $zi) (i32.mul (local.get $gate) (i32.const 3)))
      (f32x4.extract_lane 0 (local.get $go)))
    (local.set $cn (f32x4.add
      (f32x4.mul (f32x4.splat (f32.load (i32.add (local.get $cprev) (local.get $s)))) (local.get $gf))
      (f32x4.mul (local.get $gi) (local.get $gj))))
    (local.set $t (call $tanh4 (local.get $cn)))
    (f32.store (i32.add (local.get $c) (local.get $s)) (f32x4.extract_lane 0 (local.get $cn)))
    (f32.store (i32.add (local.get $tc) (local.get $s)) (f32x4.extract_lane 0 (local.get $t)))
    (f32.store (i32.add (local.get $h) (local.get $s))
      (f32x4.extract_lane 0 (f32x4.mul (local.get $t) (local.get $go))))
  )

  ;; One backward step of lstm_cell on k rows of H units, from the gate activations g [k, 4H]
  ;; that lstm_cell left in z, cprev, tc = tanh(c), dh and the carried dc, all [k, H]:
  ;;   dc' = dc + dh·g_o·(1 − tc²)
  ;;   dz = [dc'·g_j·g_i(1 − g_i), dc'·g_i·(1 − g_j²), dc'·cprev·g_f(1 − g_f), dh·tc·g_o(1 − g_o)]
  ;;   dc ← dc'·g_f
  ;; dz is [k, 4H] in the gate order of g. Units go 4 at a time, then one at a time with the
  ;; same float32 operations, so the tail matches the lanes.
  ;; ---------------------------------------------------------------------------------------
  (func (export "lstm_cell_backward")
    (param $g i32) (param $cprev i32) (param $tc i32) (param $dh i32) (param $dc i32)
    (param $dz i32) (param $k i32) (param $hs i32)
    (local $row i32) (local $j i32) (local $end4 i32) (local $end i32) (local $gate i32)
    (local $gr i32) (local $zr i32) (local $s i32)
    (local $gi v128) (local $gj v128) (local $gf v128) (local $go v128) (local $t v128)
    (local $d v128) (local $cn v128)
    (local $si f32) (local $sj f32) (local $sf f32) (local $so f32) (local $st f32)
    (local $sd f32) (local $sc f32)
    ;; Byte sizes: one gate block is H floats, a row of g or dz is 4 blocks.
    (local.set $gate (i32.shl (local.get $hs) (i32.const 2)))
    (local.set $end (local.get $gate))
    (local.set $end4 (i32.shl (i32.and (local.get $hs) (i32.const -4)) (i32.const 2)))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $row) (local.get $k)))
        (local.set $gr (i32.add (local.get $g)
          (i32.mul (local.get $row) (i32.shl (local.get $gate) (i32.const 2)))))
        (local.set $zr (i32.add (local.get $dz)
          (i32.mul (local.get $row) (i32.shl (local.get $gate) (i32.const 2)))))
        (local.set $s (i32.mul (local.get $row) (local.get $gate)))
        (local.set $j (i32.const 0))
        (block $vec_done
          (loop $vec
            (br_if $vec_done (i32.ge_u (local.get $j) (local.get $end4)))
            (local.set $gi (v128.load (i32.add (local.get $gr) (local.get $j))))
            (local.set $gj (v128.load (i32.add (i32.add (local.get $gr) (local.get $gate)) (local.get $j))))
            (local.set $gf (v128.load (i32.add (i32.add (local.get $gr)
              (i32.shl (local.get $gate) (i32.const 1))) (local.get $j))))
            (local.set $go (v128.load (i32.add (i32.add (local.get $gr)
              (i32.mul (local.get $gate) (i32.const 3))) (local.get $j))))
            (local.set $t (v128.load (i32.add (local.get $tc) (i32.add (local.get $s) (local.get $j)))))
            (local.set $d (v128.load (i32.add (local.get $dh) (i32.add (local.get $s) (local.get $j)))))
            (local.set $cn (f32x4.add
              (v128.load (i32.add (local.get $dc) (i32.add (local.get $s) (local.get $j))))
              (f32x4.mul (f32x4.mul (local.get $d) (local.get $go))
                (f32x4.sub (v128.const f32x4 1 1 1 1) (f32x4.mul (local.get $t) (local.get $t))))))
            (v128.store (i32.add (i32.add (local.get $zr) (i32.mul (local.get $gate) (i32.const 3)))
              (local.get $j))
              (f32x4.mul (f32x4.mul (f32x4.mul (local.get $d) (local.get $t)) (local.get $go))
                (f32x4.sub (v128.const f32x4 1 1 1 1) (local.get $go))))
            (v128.store (i32.add (local.get $zr) (local.get $j))
              (f32x4.mul (f32x4.mul (f32x4.mul (local.get $cn) (local.get $gj)) (local.get $gi))
                (f32x4.sub (v128.const f32x4 1 1 1 1) (local.get $gi))))
            (v128.store (i32.add (i32.add (local.get $zr) (local.get $gate)) (local.get $j))
              (f32x4.mul (f32x4.mul (local.get $cn) (local.get $gi))
                (f32x4.sub (v128.const f32x4 1 1 1 1) (f32x4.mul (local.get $gj) (local.get $gj)))))
            (v128.store (i32.add (i32.add (local.get $zr) (i32.shl (local.get $gate) (i32.const 1)))
              (local.get $j))
              (f32x4.mul (f32x4.mul (f32x4.mul (local.get $cn)
                (v128.load (i32.add (local.get $cprev) (i32.add (local.get $s) (local.get $j)))))
                (local.get $gf))
                (f32x4.sub (v128.const f32x4 1 1 1 1) (local.get $gf))))
            (v128.store (i32.add (local.get $dc) (i32.add (local.get $s) (local.get $j)))
              (f32x4.mul (local.get $cn) (local.get $gf)))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $vec)))
        (block $tail_done
          (loop $tail
            (br_if $tail_done (i32.ge_u (local.get $j) (local.get $end)))
            (local.set $si (f32.load (i32.add (local.get $gr) (local.get $j))))
            (local.set $sj (f32.load (i32.add (i32.add (local.get $gr) (local.get $gate)) (local.get $j))))
            (local.set $sf (f32.load (i32.add (i32.add (local.get $gr)
              (i32.shl (local.get $gate) (i32.const 1))) (local.get $j))))
            (local.set $so (f32.load (i32.add (i32.add (local.get $gr)
              (i32.mul (local.get $gate) (i32.const 3))) (local.get $j))))
            (local.set $st (f32.load (i32.add (local.get $tc) (i32.add (local.get $s) (local.get $j)))))
            (local.set $sd (f32.load (i32.add (local.get $dh) (i32.add (local.get $s) (local.get $j)))))
            (local.set $sc (f32.add
              (f32.load (i32.add (local.get $dc) (i32.add (local.get $s) (local.get $j))))
              (f32.mul (f32.mul (local.get $sd) (local.get $so))
                (f32.sub (f32.const 1) (f32.mul (local.get $st) (local.get $st))))))
            (f32.store (i32.add (i32.add (local.get $zr) (i32.mul (local.get $gate) (i32.const 3)))
              (local.get $j))
              (f32.mul (f32.mul (f32.mul (local.get $sd) (local.get $st)) (local.get $so))
                (f32.sub (f32.const 1) (local.get $so))))
            (f32.store (i32.add (local.get $zr) (local.get $j))
              (f32.mul (f32.mul (f32.mul (local.get $sc) (local.get $sj)) (local.get $si))
                (f32.sub (f32.const 1) (local.get $si))))
            (f32.store (i32.add (i32.add (local.get $zr) (local.get $gate)) (local.get $j))
              (f32.mul (f32.mul (local.get $sc) (local.get $si))
                (f32.sub (f32.const 1) (f32.mul (local.get $sj) (local.get $sj)))))
            (f32.store (i32.add (i32.add (local.get $zr) (i32.shl (local.get $gate) (i32.const 1)))
              (local.get $j))
              (f32.mul (f32.mul (f32.mul (local.get $sc)
                (f32.load (i32.add (local.get $cprev) (i32.add (local.get $s) (local.get $j)))))
                (local.get $sf))
                (f32.sub (f32.const 1) (local.get $sf))))
            (f32.store (i32.add (local.get $dc) (i32.add (local.get $s) (local.get $j)))
              (f32.mul (local.get $sc) (local.get $sf)))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $tail)))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $rows)))
  )

    ;; Row-wise softmax of x [N, D] into y [N, D]; y may be x.
  (func (export "softmax") (param $x i32) (param $y i32) (param $n i32) (param $d i32)
    (local $i i32) (local $j i32) (local $end4 i32) (local $end i32) (local $xr i32) (local $yr i32)
    (local $max f32) (local $vmax v128) (local $vsum v128) (local $e v128) (local $sum f32)
    (local $es f32) (local $inv v128)
    (local.set $end (i32.shl (local.get $d) (i32.const 2)))
    (local.set $end4 (i32.shl (i32.and (local.get $d) (i32.const -4)) (i32.const 2)))
    (local.set $xr (local.get $x))
    (local.set $yr (local.get $y))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $i) (local.get $n)))

        ;; Row max, so exp never overflows even for logits of magnitude 1000.
        (local.set $vmax (v128.const f32x4 -inf -inf -inf -inf))
        (local.set $j (i32.const 0))
        (block $max_done
          (loop $maxl
            (br_if $max_done (i32.ge_u (local.get $j) (local.get $end4)))
            (local.set $vmax (f32x4.max (local.get $vmax) (v128.load (i32.add (local.get $xr) (local.get $j)))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $maxl)))
        (local.set $max
          (f32.max
            (f32.max (f32x4.extract_lane 0 (local.get $vmax)) (f32x4.extract_lane 1 (local.get $vmax)))
            (f32.max (f32x4.extract_lane 2 (local.get $vmax)) (f32x4.extract_lane 3 (local.get $vmax)))))
        (block $maxt_done
          (loop $maxt
            (br_if $maxt_done (i32.ge_u (local.get $j) (local.get $end)))
            (local.set $max (f32.max (local.get $max) (f32.load (i32.add (local.get $xr) (local.get $j)))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $maxt)))

        ;; Exponentiate the shifted row into y and sum it.
        (local.set $vmax (f32x4.splat (local.get $max)))
        (local.set $vsum (v128.const f32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        (block $exp_done
          (loop $expl
            (br_if $exp_done (i32.ge_u (local.get $j) (local.get $end4)))
            (local.set $e (call $exp4
              (f32x4.sub (v128.load (i32.add (local.get $xr) (local.get $j))) (local.get $vmax))))
            (v128.store (i32.add (local.get $yr) (local.get $j)) (local.get $e))
            (local.set $vsum (f32x4.add (local.get $vsum) (local.get $e)))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $expl)))
        (local.set $sum
          (f32.add
            (f32.add (f32x4.extract_lane 0 (local.get $vsum)) (f32x4.extract_lane 1 (local.get $vsum)))
            (f32.add (f32x4.extract_lane 2 (local.get $vsum)) (f32x4.extract_lane 3 (local.get $vsum)))))
        (block $expt_done
          (loop $expt
            (br_if $expt_done (i32.ge_u (local.get $j) (local.get $end)))
            (local.set $es (call $exp1
              (f32.sub (f32.load (i32.add (local.get $xr) (local.get $j))) (local.get $max))))
            (f32.store (i32.add (local.get $yr) (local.get $j)) (local.get $es))
            (local.set $sum (f32.add (local.get $sum) (local.get $es)))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $expt)))

        ;; Normalize.
        (local.set $inv (f32x4.splat (f32.div (f32.const 1) (local.get $sum))))
        (local.set $j (i32.const 0))
        (block $norm_done
          (loop $norm
            (br_if $norm_done (i32.ge_u (local.get $j) (local.get $end4)))
            (v128.store (i32.add (local.get $yr) (local.get $j))
              (f32x4.mul (v128.load (i32.add (local.get $yr) (local.get $j))) (local.get $inv)))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $norm)))
        (block $normt_done
          (loop $normt
            (br_if $normt_done (i32.ge_u (local.get $j) (local.get $end)))
            (f32.store (i32.add (local.get $yr) (local.get $j))
              (f32.mul (f32.load (i32.add (local.get $yr) (local.get $j)))
                (f32x4.extract_lane 0 (local.get $inv))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $normt)))

        (local.set $xr (i32.add (local.get $xr) (local.get $end)))
        (local.set $yr (i32.add (local.get $yr) (local.get $end)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows)))
  )

  ;; v = momentum·v + (g + wd·w); w = w − lr·v.
  (func (export "sgd_momentum")
    (param $w i32) (param $g i32) (param $v i32) (param $len i32)
    (param $lr f32) (param $momentum f32) (param $wd f32)
    (local $i i32) (local $end4 i32) (local $vv v128) (local $vs f32)
    (local $lr4 v128) (local $mom4 v128) (local $wd4 v128)
    (local.set $lr4 (f32x4.splat (local.get $lr)))
    (local.set $mom4 (f32x4.splat (local.get $momentum)))
    (local.set $wd4 (f32x4.splat (local.get $wd)))
    (local.set $end4 (i32.shl (i32.and (local.get $len) (i32.const -4)) (i32.const 2)))
    (block $vec_done
      (loop $vec
        (br_if $vec_done (i32.ge_u (local.get $i) (local.get $end4)))
        (local.set $vv
          (f32x4.add (f32x4.mul (local.get $mom4) (v128.load (i32.add (local.get $v) (local.get $i))))
            (f32x4.add (v128.load (i32.add (local.get $g) (local.get $i)))
              (f32x4.mul (local.get $wd4) (v128.load (i32.add (local.get $w) (local.get $i)))))))
        (v128.store (i32.add (local.get $v) (local.get $i)) (local.get $vv))
        (v128.store (i32.add (local.get $w) (local.get $i))
          (f32x4.sub (v128.load (i32.add (local.get $w) (local.get $i)))
            (f32x4.mul (local.get $lr4) (local.get $vv))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $vec)))
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $i) (i32.shl (local.get $len) (i32.const 2))))
        (local.set $vs
          (f32.add (f32.mul (local.get $momentum) (f32.load (i32.add (local.get $v) (local.get $i))))
            (f32.add (f32.load (i32.add (local.get $g) (local.get $i)))
              (f32.mul (local.get $wd) (f32.load (i32.add (local.get $w) (local.get $i)))))))
        (f32.store (i32.add (local.get $v) (local.get $i)) (local.get $vs))
        (f32.store (i32.add (local.get $w) (local.get $i))
          (f32.sub (f32.load (i32.add (local.get $w) (local.get $i)))
            (f32.mul (local.get $lr) (local.get $vs))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $tail)))
  )

  ;; ---------------------------------------------------------------------------------------
  ;; Convolution and pooling over [N, C, H, W]. Every kernel here runs on the calling thread.
  ;; ---------------------------------------------------------------------------------------

  ;; Return the first output column ox whose input column ox·stride + kx − pad is not left of
  ;; the input: ceil((pad − kx) / stride), or 0.
  (func $first_inside (param $pad i32) (param $kx i32) (param $stride i32) (result i32)
    (if (result i32) (i32.gt_s (i32.sub (local.get $pad) (local.get $kx)) (i32.const 0))
      (then
        (i32.div_u
          (i32.add (i32.sub (local.get $pad) (local.get $kx)) (i32.sub (local.get $stride) (i32.const 1)))
          (local.get $stride)))
      (else (i32.const 0)))
  )

  ;; Return one past the last output column whose input column lies left of w, clamped to
  ;; [lo, wo]: floor((w − 1 + pad − kx) / stride) + 1.
  (func $end_inside
    (param $w i32) (param $pad i32) (param $kx i32) (param $stride i32) (param $lo i32) (param $wo i32)
    (result i32)
    (local $num i32) (local $hi i32)
    (local.set $num (i32.sub (i32.add (i32.sub (local.get $w) (i32.const 1)) (local.get $pad)) (local.get $kx)))
    (if (i32.lt_s (local.get $num) (i32.const 0))
      (then (local.set $hi (i32.const 0)))
      (else (local.set $hi (i32.add (i32.div_u (local.get $num) (local.get $stride)) (i32.const 1)))))
    (if (i32.gt_s (local.get $hi) (local.get $wo)) (then (local.set $hi (local.get $wo))))
    (if (i32.lt_s (local.get $hi) (local.get $lo)) (then (local.set $hi (local.get $lo))))
    (local.get $hi)
  )

  ;; dst[i] = src[i] for i < len, 4 lanes at a time, then a scalar tail. For the short rows of
  ;; im2col this is faster than memory.copy, which calls out of the compiled code.
  (func $copy_floats (param $dst i32) (param $src i32) (param $len i32)
    (local $end4 i32) (local $end i32)
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $len) (i32.const 2))))
    (local.set $end4 (i32.add (local.get $dst) (i32.shl (i32.and (local.get $len) (i32.const -4)) (i32.const 2))))
    (block $vec_done
      (loop $vec
        (br_if $vec_done (i32.ge_u (local.get $dst) (local.get $end4)))
        (v128.store (local.get $dst) (v128.load (local.get $src)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (br $vec)))
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $dst) (local.get $end)))
        (f32.store (local.get $dst) (f32.load (local.get $src)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (local.set $src (i32.add (local.get $src) (i32.const 4)))
        (br $tail)))
  )

  ;; dst[i] = 0 for i < len, one float at a time: the runs of padding are a few floats long.
  (func $zero_floats (param $dst i32) (param $len i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $len) (i32.const 2))))
    (block $done
      (loop $zero
        (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
        (f32.store (local.get $dst) (f32.const 0))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (br $zero)))
  )

  ;; dst[i] += src[i] for i < len, 4 lanes at a time, then a scalar tail.
  (func $add_into (param $dst i32) (param $src i32) (param $len i32)
    (local $end4 i32) (local $end i32)
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $len) (i32.const 2))))
    (local.set $end4 (i32.add (local.get $dst) (i32.shl (i32.and (local.get $len) (i32.const -4)) (i32.const 2))))
    (block $vec_done
      (loop $vec
        (br_if $vec_done (i32.ge_u (local.get $dst) (local.get $end4)))
        (v128.store (local.get $dst)
          (f32x4.add (v128.load (local.get $dst)) (v128.load (local.get $src))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (br $vec)))
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $dst) (local.get $end)))
        (f32.store (local.get $dst) (f32.add (f32.load (local.get $dst)) (f32.load (local.get $src))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (local.set $src (i32.add (local.get $src) (i32.const 4)))
        (br $tail)))
  )

  ;; cols [C·K·K, N·Ho·Wo] from x [N, C, H, W]:
  ;; cols[(c·K + ky)·K + kx, (n·Ho + oy)·Wo + ox] = x[n, c, oy·stride + ky − pad, ox·stride + kx − pad],
  ;; 0 in the padding. cols is written in order; each output row splits into a left run of
  ;; padding, a middle run read from one input row (a contiguous copy when stride is 1), and a
  ;; right run of padding.
  (func (export "im2col")
    (param $x i32) (param $cols i32) (param $n i32) (param $c i32) (param $h i32) (param $w i32)
    (param $k i32) (param $pad i32) (param $stride i32) (param $ho i32) (param $wo i32)
    (local $ci i32) (local $ky i32) (local $kx i32) (local $ni i32) (local $oy i32) (local $ox i32)
    (local $iy i32) (local $lo i32) (local $hi i32) (local $dst i32) (local $plane i32)
    (local $src i32) (local $planeBytes i32) (local $rowBytes i32) (local $strideBytes i32)

    (local.set $planeBytes (i32.shl (i32.mul (local.get $h) (local.get $w)) (i32.const 2)))
    (local.set $rowBytes (i32.shl (local.get $wo) (i32.const 2)))
    (local.set $strideBytes (i32.shl (local.get $stride) (i32.const 2)))
    (local.set $dst (local.get $cols))
    (block $c_done
      (loop $c_loop
        (br_if $c_done (i32.ge_u (local.get $ci) (local.get $c)))
        (local.set $ky (i32.const 0))
        (block $ky_done
          (loop $ky_loop
            (br_if $ky_done (i32.ge_u (local.get $ky) (local.get $k)))
            (local.set $kx (i32.const 0))
            (block $kx_done
              (loop $kx_loop
                (br_if $kx_done (i32.ge_u (local.get $kx) (local.get $k)))
                (local.set $lo (call $first_inside (local.get $pad) (local.get $kx) (local.get $stride)))
                (if (i32.gt_s (local.get $lo) (local.get $wo)) (then (local.set $lo (local.get $wo))))
                (local.set $hi (call $end_inside (local.get $w) (local.get $pad) (local.get $kx)
                  (local.get $stride) (local.get $lo) (local.get $wo)))
                (local.set $ni (i32.const 0))
                (block $n_done
                  (loop $n_loop
                    (br_if $n_done (i32.ge_u (local.get $ni) (local.get $n)))
                    (local.set $plane (i32.add (local.get $x)
                      (i32.mul (i32.add (i32.mul (local.get $ni) (local.get $c)) (local.get $ci))
                        (local.get $planeBytes))))
                    (local.set $oy (i32.const 0))
                    (block $oy_done
                      (loop $oy_loop
                        (br_if $oy_done (i32.ge_u (local.get $oy) (local.get $ho)))
                        (local.set $iy (i32.sub (i32.add (i32.mul (local.get $oy) (local.get $stride))
                          (local.get $ky)) (local.get $pad)))
                        (if (i32.or (i32.lt_s (local.get $iy) (i32.const 0)) (i32.ge_s (local.get $iy) (local.get $h)))
                          (then (call $zero_floats (local.get $dst) (local.get $wo)))
                          (else
                            ;; Left padding, middle run, right padding.
                            (call $zero_floats (local.get $dst) (local.get $lo))
                            ;; src = x[n, c, iy, lo·stride + kx − pad]
                            (local.set $src (i32.add (local.get $plane)
                              (i32.shl
                                (i32.sub
                                  (i32.add (i32.mul (local.get $iy) (local.get $w))
                                    (i32.add (i32.mul (local.get $lo) (local.get $stride)) (local.get $kx)))
                                  (local.get $pad))
                                (i32.const 2))))
                            (if (i32.eq (local.get $stride) (i32.const 1))
                              (then
                                (call $copy_floats
                                  (i32.add (local.get $dst) (i32.shl (local.get $lo) (i32.const 2)))
                                  (local.get $src)
                                  (i32.sub (local.get $hi) (local.get $lo))))
                              (else
                                (local.set $ox (local.get $lo))
                                (block $ox_done
                                  (loop $ox_loop
                                    (br_if $ox_done (i32.ge_u (local.get $ox) (local.get $hi)))
                                    (f32.store (i32.add (local.get $dst) (i32.shl (local.get $ox) (i32.const 2)))
                                      (f32.load (local.get $src)))
                                    (local.set $src (i32.add (local.get $src) (local.get $strideBytes)))
                                    (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
                                    (br $ox_loop)))))
                            (call $zero_floats (i32.add (local.get $dst) (i32.shl (local.get $hi) (i32.const 2)))
                              (i32.sub (local.get $wo) (local.get $hi)))))
                        (local.set $dst (i32.add (local.get $dst) (local.get $rowBytes)))
                        (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
                        (br $oy_loop)))
                    (local.set $ni (i32.add (local.get $ni) (i32.const 1)))
                    (br $n_loop)))
                (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
                (br $kx_loop)))
            (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
            (br $ky_loop)))
        (local.set $ci (i32.add (local.get $ci) (i32.const 1)))
        (br $c_loop)))
  )

  ;; dx [N, C, H, W] = the sum, at each input pixel, of the cols entries that im2col copied from
  ;; it: the same walk as im2col with the copy reversed into an add, after zeroing dx.
  (func (export "col2im")
    (param $cols i32) (param $dx i32) (param $n i32) (param $c i32) (param $h i32) (param $w i32)
    (param $k i32) (param $pad i32) (param $stride i32) (param $ho i32) (param $wo i32)
    (local $ci i32) (local $ky i32) (local $kx i32) (local $ni i32) (local $oy i32) (local $ox i32)
    (local $iy i32) (local $lo i32) (local $hi i32) (local $src i32) (local $plane i32)
    (local $dst i32) (local $planeBytes i32) (local $rowBytes i32) (local $strideBytes i32)

    (local.set $planeBytes (i32.shl (i32.mul (local.get $h) (local.get $w)) (i32.const 2)))
    (local.set $rowBytes (i32.shl (local.get $wo) (i32.const 2)))
    (local.set $strideBytes (i32.shl (local.get $stride) (i32.const 2)))
    (memory.fill (local.get $dx) (i32.const 0)
      (i32.mul (i32.mul (local.get $n) (local.get $c)) (local.get $planeBytes)))
    (local.set $src (local.get $cols))
    (block $c_done
      (loop $c_loop
        (br_if $c_done (i32.ge_u (local.get $ci) (local.get $c)))
        (local.set $ky (i32.const 0))
        (block $ky_done
          (loop $ky_loop
            (br_if $ky_done (i32.ge_u (local.get $ky) (local.get $k)))
            (local.set $kx (i32.const 0))
            (block $kx_done
              (loop $kx_loop
                (br_if $kx_done (i32.ge_u (local.get $kx) (local.get $k)))
                (local.set $lo (call $first_inside (local.get $pad) (local.get $kx) (local.get $stride)))
                (if (i32.gt_s (local.get $lo) (local.get $wo)) (then (local.set $lo (local.get $wo))))
                (local.set $hi (call $end_inside (local.get $w) (local.get $pad) (local.get $kx)
                  (local.get $stride) (local.get $lo) (local.get $wo)))
                (local.set $ni (i32.const 0))
                (block $n_done
                  (loop $n_loop
                    (br_if $n_done (i32.ge_u (local.get $ni) (local.get $n)))
                    (local.set $plane (i32.add (local.get $dx)
                      (i32.mul (i32.add (i32.mul (local.get $ni) (local.get $c)) (local.get $ci))
                        (local.get $planeBytes))))
                    (local.set $oy (i32.const 0))
                    (block $oy_done
                      (loop $oy_loop
                        (br_if $oy_done (i32.ge_u (local.get $oy) (local.get $ho)))
                        (local.set $iy (i32.sub (i32.add (i32.mul (local.get $oy) (local.get $stride))
                          (local.get $ky)) (local.get $pad)))
                        (if (i32.and (i32.ge_s (local.get $iy) (i32.const 0)) (i32.lt_s (local.get $iy) (local.get $h)))
                          (then
                            ;; dst = dx[n, c, iy, lo·stride + kx − pad]
                            (local.set $dst (i32.add (local.get $plane)
                              (i32.shl
                                (i32.sub
                                  (i32.add (i32.mul (local.get $iy) (local.get $w))
                                    (i32.add (i32.mul (local.get $lo) (local.get $stride)) (local.get $kx)))
                                  (local.get $pad))
                                (i32.const 2))))
                            (if (i32.eq (local.get $stride) (i32.const 1))
                              (then
                                (call $add_into (local.get $dst)
                                  (i32.add (local.get $src) (i32.shl (local.get $lo) (i32.const 2)))
                                  (i32.sub (local.get $hi) (local.get $lo))))
                              (else
                                (local.set $ox (local.get $lo))
                                (block $ox_done
                                  (loop $ox_loop
                                    (br_if $ox_done (i32.ge_u (local.get $ox) (local.get $hi)))
                                    (f32.store (local.get $dst)
                                      (f32.add (f32.load (local.get $dst))
                                        (f32.load (i32.add (local.get $src) (i32.shl (local.get $ox) (i32.const 2))))))
                                    (local.set $dst (i32.add (local.get $dst) (local.get $strideBytes)))
                                    (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
                                    (br $ox_loop)))))))
                        (local.set $src (i32.add (local.get $src) (local.get $rowBytes)))
                        (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
                        (br $oy_loop)))
                    (local.set $ni (i32.add (local.get $ni) (i32.const 1)))
                    (br $n_loop)))
                (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
                (br $kx_loop)))
            (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
            (br $ky_loop)))
        (local.set $ci (i32.add (local.get $ci) (i32.const 1)))
        (br $c_loop)))
  )

  ;; y [B, A, R] from x [A, B, R]: y[j, i, :] = x[i, j, :], one memory.copy of R floats each.
  (func (export "swap_axes01") (param $x i32) (param $y i32) (param $a i32) (param $b i32) (param $r i32)
    (local $i i32) (local $j i32) (local $bytes i32) (local $src i32)
    (local.set $bytes (i32.shl (local.get $r) (i32.const 2)))
    (local.set $src (local.get $x))
    (block $i_done
      (loop $i_loop
        (br_if $i_done (i32.ge_u (local.get $i) (local.get $a)))
        (local.set $j (i32.const 0))
        (block $j_done
          (loop $j_loop
            (br_if $j_done (i32.ge_u (local.get $j) (local.get $b)))
            (memory.copy
              (i32.add (local.get $y)
                (i32.mul (i32.add (i32.mul (local.get $j) (local.get $a)) (local.get $i)) (local.get $bytes)))
              (local.get $src)
              (local.get $bytes))
            (local.set $src (i32.add (local.get $src) (local.get $bytes)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $j_loop)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $i_loop)))
  )

  ;; x[n, c, :] += b[c] for x [N, C, S] (S = H·W) and b [C].
  (func (export "add_channel_bias") (param $x i32) (param $b i32) (param $n i32) (param $c i32) (param $s i32)
    (local $p i32) (local $count i32) (local $end i32) (local $end4 i32) (local $v f32) (local $v4 v128)
    (local.set $count (i32.mul (local.get $n) (local.get $c)))
    (block $planes_done
      (loop $planes
        (br_if $planes_done (i32.ge_u (local.get $p) (local.get $count)))
        (local.set $v (f32.load
          (i32.add (local.get $b) (i32.shl (i32.rem_u (local.get $p) (local.get $c)) (i32.const 2)))))
        (local.set $v4 (f32x4.splat (local.get $v)))
        (local.set $end (i32.add (local.get $x) (i32.shl (local.get $s) (i32.const 2))))
        (local.set $end4 (i32.add (local.get $x) (i32.shl (i32.and (local.get $s) (i32.const -4)) (i32.const 2))))
        (block $vec_done
          (loop $vec
            (br_if $vec_done (i32.ge_u (local.get $x) (local.get $end4)))
            (v128.store (local.get $x) (f32x4.add (v128.load (local.get $x)) (local.get $v4)))
            (local.set $x (i32.add (local.get $x) (i32.const 16)))
            (br $vec)))
        (block $tail_done
          (loop $tail
            (br_if $tail_done (i32.ge_u (local.get $x) (local.get $end)))
            (f32.store (local.get $x) (f32.add (f32.load (local.get $x)) (local.get $v)))
            (local.set $x (i32.add (local.get $x) (i32.const 4)))
            (br $tail)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $planes)))
  )

  ;; out[c] = Σ_{n, s} x[n, c, s] for x [N, C, S] and out [C]. Each plane is summed in 4 lanes.
  (func (export "sum_channels") (param $x i32) (param $out i32) (param $n i32) (param $c i32) (param $s i32)
    (local $p i32) (local $count i32) (local $end i32) (local $end4 i32) (local $acc v128)
    (local $sum f32) (local $o i32)
    (memory.fill (local.get $out) (i32.const 0) (i32.shl (local.get $c) (i32.const 2)))
    (local.set $count (i32.mul (local.get $n) (local.get $c)))
    (block $planes_done
      (loop $planes
        (br_if $planes_done (i32.ge_u (local.get $p) (local.get $count)))
        (local.set $acc (v128.const f32x4 0 0 0 0))
        (local.set $end (i32.add (local.get $x) (i32.shl (local.get $s) (i32.const 2))))
        (local.set $end4 (i32.add (local.get $x) (i32.shl (i32.and (local.get $s) (i32.const -4)) (i32.const 2))))
        (block $vec_done
          (loop $vec
            (br_if $vec_done (i32.ge_u (local.get $x) (local.get $end4)))
            (local.set $acc (f32x4.add (local.get $acc) (v128.load (local.get $x))))
            (local.set $x (i32.add (local.get $x) (i32.const 16)))
            (br $vec)))
        (local.set $sum
          (f32.add
            (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
            (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))
        (block $tail_done
          (loop $tail
            (br_if $tail_done (i32.ge_u (local.get $x) (local.get $end)))
            (local.set $sum (f32.add (local.get $sum) (f32.load (local.get $x))))
            (local.set $x (i32.add (local.get $x) (i32.const 4)))
            (br $tail)))
        (local.set $o (i32.add (local.get $out) (i32.shl (i32.rem_u (local.get $p) (local.get $c)) (i32.const 2))))
        (f32.store (local.get $o) (f32.add (f32.load (local.get $o)) (local.get $sum)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $planes)))
  )

  ;; Return whether the 2×2 window with top-left pixel (y0, x0) lies inside an h × w plane.
  (func $inside2 (param $y0 i32) (param $x0 i32) (param $h i32) (param $w i32) (result i32)
    (i32.and
      (i32.and (i32.ge_s (local.get $y0) (i32.const 0)) (i32.ge_s (local.get $x0) (i32.const 0)))
      (i32.and (i32.le_s (i32.add (local.get $y0) (i32.const 2)) (local.get $h))
        (i32.le_s (i32.add (local.get $x0) (i32.const 2)) (local.get $w))))
  )

  ;; y [P, Ho, Wo] from x [P, H, W] (P = N·C): the sum of each K×K window at (oy·K − pad,
  ;; ox·K − pad), over the pixels inside the input, divided by K·K.
  (func (export "avg_pool")
    (param $x i32) (param $y i32) (param $planes i32) (param $h i32) (param $w i32)
    (param $k i32) (param $pad i32) (param $ho i32) (param $wo i32)
    (local $p i32) (local $oy i32) (local $ox i32) (local $iy i32) (local $ix i32)
    (local $y0 i32) (local $x0 i32) (local $sum f32) (local $area f32) (local $plane i32)
    (local.set $area (f32.convert_i32_u (i32.mul (local.get $k) (local.get $k))))
    (block $p_done
      (loop $p_loop
        (br_if $p_done (i32.ge_u (local.get $p) (local.get $planes)))
        (local.set $plane (i32.add (local.get $x)
          (i32.shl (i32.mul (local.get $p) (i32.mul (local.get $h) (local.get $w))) (i32.const 2))))
        (local.set $oy (i32.const 0))
        (block $oy_done
          (loop $oy_loop
            (br_if $oy_done (i32.ge_u (local.get $oy) (local.get $ho)))
            (local.set $y0 (i32.sub (i32.mul (local.get $oy) (local.get $k)) (local.get $pad)))
            (local.set $ox (i32.const 0))
            (block $ox_done
              (loop $ox_loop
                (br_if $ox_done (i32.ge_u (local.get $ox) (local.get $wo)))
                (local.set $x0 (i32.sub (i32.mul (local.get $ox) (local.get $k)) (local.get $pad)))
                (local.set $sum (f32.const 0))
                (if (i32.and (i32.eq (local.get $k) (i32.const 2))
                      (call $inside2 (local.get $y0) (local.get $x0) (local.get $h) (local.get $w)))
                  (then
                    ;; A 2×2 window inside the input: four loads, no bounds checks.
                    (local.set $ix (i32.add (local.get $plane)
                      (i32.shl (i32.add (i32.mul (local.get $y0) (local.get $w)) (local.get $x0)) (i32.const 2))))
                    (local.set $iy (i32.add (local.get $ix) (i32.shl (local.get $w) (i32.const 2))))
                    (local.set $sum
                      (f32.add
                        (f32.add (f32.load (local.get $ix)) (f32.load offset=4 (local.get $ix)))
                        (f32.add (f32.load (local.get $iy)) (f32.load offset=4 (local.get $iy))))))
                  (else
                    (local.set $iy (local.get $y0))
                    (block $iy_done
                      (loop $iy_loop
                        (br_if $iy_done (i32.ge_s (local.get $iy) (i32.add (local.get $y0) (local.get $k))))
                        (if (i32.and (i32.ge_s (local.get $iy) (i32.const 0)) (i32.lt_s (local.get $iy) (local.get $h)))
                          (then
                            (local.set $ix (local.get $x0))
                            (block $ix_done
                              (loop $ix_loop
                                (br_if $ix_done (i32.ge_s (local.get $ix) (i32.add (local.get $x0) (local.get $k))))
                                (if (i32.and (i32.ge_s (local.get $ix) (i32.const 0)) (i32.lt_s (local.get $ix) (local.get $w)))
                                  (then
                                    (local.set $sum (f32.add (local.get $sum)
                                      (f32.load (i32.add (local.get $plane)
                                        (i32.shl (i32.add (i32.mul (local.get $iy) (local.get $w)) (local.get $ix))
                                          (i32.const 2))))))))
                                (local.set $ix (i32.add (local.get $ix) (i32.const 1)))
                                (br $ix_loop)))))
                        (local.set $iy (i32.add (local.get $iy) (i32.const 1)))
                        (br $iy_loop)))))
                (f32.store (local.get $y) (f32.div (local.get $sum) (local.get $area)))
                (local.set $y (i32.add (local.get $y) (i32.const 4)))
                (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
                (br $ox_loop)))
            (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
            (br $oy_loop)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $p_loop)))
  )

  ;; dx [P, H, W] from dy [P, Ho, Wo]: every pixel inside window (oy, ox) gets dy[oy, ox] / (K·K),
  ;; and pixels that no window covers get 0.
  (func (export "avg_pool_backward")
    (param $dy i32) (param $dx i32) (param $planes i32) (param $h i32) (param $w i32)
    (param $k i32) (param $pad i32) (param $ho i32) (param $wo i32)
    (local $p i32) (local $oy i32) (local $ox i32) (local $iy i32) (local $ix i32)
    (local $y0 i32) (local $x0 i32) (local $g f32) (local $area f32) (local $plane i32)
    (local.set $area (f32.convert_i32_u (i32.mul (local.get $k) (local.get $k))))
    (memory.fill (local.get $dx) (i32.const 0)
      (i32.shl (i32.mul (local.get $planes) (i32.mul (local.get $h) (local.get $w))) (i32.const 2)))
    (block $p_done
      (loop $p_loop
        (br_if $p_done (i32.ge_u (local.get $p) (local.get $planes)))
        (local.set $plane (i32.add (local.get $dx)
          (i32.shl (i32.mul (local.get $p) (i32.mul (local.get $h) (local.get $w))) (i32.const 2))))
        (local.set $oy (i32.const 0))
        (block $oy_done
          (loop $oy_loop
            (br_if $oy_done (i32.ge_u (local.get $oy) (local.get $ho)))
            (local.set $y0 (i32.sub (i32.mul (local.get $oy) (local.get $k)) (local.get $pad)))
            (local.set $ox (i32.const 0))
            (block $ox_done
              (loop $ox_loop
                (br_if $ox_done (i32.ge_u (local.get $ox) (local.get $wo)))
                (local.set $x0 (i32.sub (i32.mul (local.get $ox) (local.get $k)) (local.get $pad)))
                (local.set $g (f32.div (f32.load (local.get $dy)) (local.get $area)))
                (if (i32.and (i32.eq (local.get $k) (i32.const 2))
                      (call $inside2 (local.get $y0) (local.get $x0) (local.get $h) (local.get $w)))
                  (then
                    ;; A 2×2 window inside the input: four stores, no bounds checks.
                    (local.set $ix (i32.add (local.get $plane)
                      (i32.shl (i32.add (i32.mul (local.get $y0) (local.get $w)) (local.get $x0)) (i32.const 2))))
                    (local.set $iy (i32.add (local.get $ix) (i32.shl (local.get $w) (i32.const 2))))
                    (f32.store (local.get $ix) (local.get $g))
                    (f32.store offset=4 (local.get $ix) (local.get $g))
                    (f32.store (local.get $iy) (local.get $g))
                    (f32.store offset=4 (local.get $iy) (local.get $g)))
                  (else
                    (local.set $iy (local.get $y0))
                    (block $iy_done
                      (loop $iy_loop
                        (br_if $iy_done (i32.ge_s (local.get $iy) (i32.add (local.get $y0) (local.get $k))))
                        (if (i32.and (i32.ge_s (local.get $iy) (i32.const 0)) (i32.lt_s (local.get $iy) (local.get $h)))
                          (then
                            (local.set $ix (local.get $x0))
                            (block $ix_done
                              (loop $ix_loop
                                (br_if $ix_done (i32.ge_s (local.get $ix) (i32.add (local.get $x0) (local.get $k))))
                                (if (i32.and (i32.ge_s (local.get $ix) (i32.const 0)) (i32.lt_s (local.get $ix) (local.get $w)))
                                  (then
                                    (f32.store (i32.add (local.get $plane)
                                        (i32.shl (i32.add (i32.mul (local.get $iy) (local.get $w)) (local.get $ix))
                                          (i32.const 2)))
                                      (local.get $g))))
                                (local.set $ix (i32.add (local.get $ix) (i32.const 1)))
                                (br $ix_loop)))))
                        (local.set $iy (i32.add (local.get $iy) (i32.const 1)))
                        (br $iy_loop)))))
                (local.set $dy (i32.add (local.get $dy) (i32.const 4)))
                (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
                (br $ox_loop)))
            (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
            (br $oy_loop)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $p_loop)))
  )

  ;; y [P, Ho, Wo] = the maximum of each K×K window at (oy·stride, ox·stride) of x [P, H, W], and
  ;; argmax [P, Ho, Wo] = its position iy·W + ix in the plane, as a float. Only a strictly greater
  ;; value replaces the best, so a tie keeps the first position in row-major order.
  (func (export "max_pool")
    (param $x i32) (param $y i32) (param $argmax i32) (param $planes i32) (param $h i32) (param $w i32)
    (param $k i32) (param $stride i32) (param $ho i32) (param $wo i32)
    (local $p i32) (local $oy i32) (local $ox i32) (local $iy i32) (local $ix i32)
    (local $best i32) (local $bestValue f32) (local $v f32) (local $plane i32) (local $at i32)
    (block $p_done
      (loop $p_loop
        (br_if $p_done (i32.ge_u (local.get $p) (local.get $planes)))
        (local.set $plane (i32.add (local.get $x)
          (i32.shl (i32.mul (local.get $p) (i32.mul (local.get $h) (local.get $w))) (i32.const 2))))
        (local.set $oy (i32.const 0))
        (block $oy_done
          (loop $oy_loop
            (br_if $oy_done (i32.ge_u (local.get $oy) (local.get $ho)))
            (local.set $ox (i32.const 0))
            (block $ox_done
              (loop $ox_loop
                (br_if $ox_done (i32.ge_u (local.get $ox) (local.get $wo)))
                (local.set $best (i32.add (i32.mul (i32.mul (local.get $oy) (local.get $stride)) (local.get $w))
                  (i32.mul (local.get $ox) (local.get $stride))))
                (local.set $bestValue
                  (f32.load (i32.add (local.get $plane) (i32.shl (local.get $best) (i32.const 2)))))
                (local.set $iy (i32.mul (local.get $oy) (local.get $stride)))
                (block $iy_done
                  (loop $iy_loop
                    (br_if $iy_done
                      (i32.ge_u (local.get $iy) (i32.add (i32.mul (local.get $oy) (local.get $stride)) (local.get $k))))
                    (local.set $ix (i32.mul (local.get $ox) (local.get $stride)))
                    (block $ix_done
                      (loop $ix_loop
                        (br_if $ix_done
                          (i32.ge_u (local.get $ix) (i32.add (i32.mul (local.get $ox) (local.get $stride)) (local.get $k))))
                        (local.set $at (i32.add (i32.mul (local.get $iy) (local.get $w)) (local.get $ix)))
                        (local.set $v (f32.load (i32.add (local.get $plane) (i32.shl (local.get $at) (i32.const 2)))))
                        (if (f32.gt (local.get $v) (local.get $bestValue))
                          (then
                            (local.set $bestValue (local.get $v))
                            (local.set $best (local.get $at))))
                        (local.set $ix (i32.add (local.get $ix) (i32.const 1)))
                        (br $ix_loop)))
                    (local.set $iy (i32.add (local.get $iy) (i32.const 1)))
                    (br $iy_loop)))
                (f32.store (local.get $y) (local.get $bestValue))
                (f32.store (local.get $argmax) (f32.convert_i32_u (local.get $best)))
                (local.set $y (i32.add (local.get $y) (i32.const 4)))
                (local.set $argmax (i32.add (local.get $argmax) (i32.const 4)))
                (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
                (br $ox_loop)))
            (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
            (br $oy_loop)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $p_loop)))
  )

  ;; dx [P, H, W] = 0, then dx[p, argmax[p, o]] += dy[p, o] for every output o of plane p.
  ;; The caller checks that every argmax lies inside its plane.
  (func (export "max_pool_backward")
    (param $dy i32) (param $argmax i32) (param $dx i32) (param $planes i32) (param $hw i32) (param $howo i32)
    (local $p i32) (local $o i32) (local $plane i32) (local $at i32)
    (memory.fill (local.get $dx) (i32.const 0)
      (i32.shl (i32.mul (local.get $planes) (local.get $hw)) (i32.const 2)))
    (block $p_done
      (loop $p_loop
        (br_if $p_done (i32.ge_u (local.get $p) (local.get $planes)))
        (local.set $plane (i32.add (local.get $dx)
          (i32.shl (i32.mul (local.get $p) (local.get $hw)) (i32.const 2))))
        (local.set $o (i32.const 0))
        (block $o_done
          (loop $o_loop
            (br_if $o_done (i32.ge_u (local.get $o) (local.get $howo)))
            (local.set $at (i32.add (local.get $plane)
              (i32.shl (i32.trunc_f32_u (f32.load (local.get $argmax))) (i32.const 2))))
            (f32.store (local.get $at) (f32.add (f32.load (local.get $at)) (f32.load (local.get $dy))))
            (local.set $dy (i32.add (local.get $dy) (i32.const 4)))
            (local.set $argmax (i32.add (local.get $argmax) (i32.const 4)))
            (local.set $o (i32.add (local.get $o) (i32.const 1)))
            (br $o_loop)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $p_loop)))
  )
)
