using System.Runtime.Intrinsics.X86;
using ConvKit.Kernels;

namespace ConvKit.Tests.Kernels;

public class GemmTests
{
    public static TheoryData<bool, bool> Transposes() => new() { { false, false }, { true, false }, { false, true }, { true, true } };

    /// <summary>C (+)= op(A) · op(B) with leading dimensions padded by <paramref name="pad"/>; fast against reference.</summary>
    private static void Check(bool transposeA, bool transposeB, int m, int n, int k, int pad, bool accumulate, int seed)
    {
        int lda = (transposeA ? m : k) + pad, ldb = (transposeB ? k : n) + pad, ldc = n + pad;
        var a = KernelAssert.Random(Math.Max(0, (transposeA ? k : m) * lda), seed);
        var b = KernelAssert.Random(Math.Max(0, (transposeB ? n : k) * ldb), seed + 1);
        var expected = KernelAssert.Random(m * ldc, seed + 2);
        var actual = (float[])expected.Clone();
        GemmReference.Multiply(transposeA, transposeB, m, n, k, a, lda, b, ldb, expected, ldc, accumulate);
        Gemm.Multiply(transposeA, transposeB, m, n, k, a, lda, b, ldb, actual, ldc, accumulate);
        KernelAssert.Close(expected, actual, 1e-5f * Math.Max(1, k), $"GEMM ta={transposeA} tb={transposeB} m={m} n={n} k={k} pad={pad} acc={accumulate}");
    }

    [Theory, MemberData(nameof(Transposes))]
    public void SmallSizesAgreeWithReference(bool transposeA, bool transposeB)
    {
        int[] sizes = [0, 1, 2, 3, 5, 6, 7, 8, 13, 16, 17, 23, 31, 33, 47, 64, 70];
        int seed = 0;
        foreach (int m in sizes)
            foreach (int n in sizes)
                foreach (int k in new[] { 0, 1, 3, 17, 70 })
                    Check(transposeA, transposeB, m, n, k, pad: seed % 3, accumulate: seed++ % 2 == 0, seed);
    }

    [Theory, MemberData(nameof(Transposes))]
    public void LargeSizesCrossEveryBlockBoundary(bool transposeA, bool transposeB)
    {
        Check(transposeA, transposeB, 301, 45, 530, pad: 3, accumulate: false, seed: 1);   // k over KC, in row chunks
        Check(transposeA, transposeB, 1931, 70, 150, pad: 1, accumulate: true, seed: 6);  // many row chunks
        Check(transposeA, transposeB, 7, 4100, 9, pad: 0, accumulate: true, seed: 2);     // columns over NC
        Check(transposeA, transposeB, 200, 200, 260, pad: 5, accumulate: true, seed: 3);  // threaded, odd edges
        Check(transposeA, transposeB, 1000, 13, 80, pad: 1, accumulate: false, seed: 4);  // one micro-panel of B: A read in place
        Check(transposeA, transposeB, 10, 3000, 40, pad: 2, accumulate: true, seed: 5);   // few rows: column chunks
        Check(transposeA, transposeB, 2413, 490, 390, pad: 1, accumulate: true, seed: 7); // packed: row chunks over several NC blocks
    }

    /// <summary>
    /// A read in place (as convolution tiles pass it) with threads on shares: by columns when C is wide, by rows when tall;
    /// against the reference, and bit for bit against the same product run on one thread inside a parallel region.
    /// </summary>
    [Theory]
    [InlineData(20, 300, 150)]
    [InlineData(700, 40, 300)]
    [InlineData(3, 10, 20000)]      // one row panel and one column panel: no share to split, one thread
    public unsafe void InPlaceAAgreesWithReferenceWhicheverWayThreadsSplit(int m, int n, int k)
    {
        var a = KernelAssert.Random(m * k, 30);
        var b = KernelAssert.Random(k * n, 31);
        var expected = new float[m * n];
        var threaded = new float[m * n];
        var serial = new float[m * n];
        GemmReference.Multiply(false, false, m, n, k, a, k, b, n, expected, n, false);
        fixed (float* pa = a, pb = b, pt = threaded, ps = serial)
        {
            float* ta = pa, tb = pb, tt = pt, ts = ps;
            Gemm.Multiply(false, false, m, n, k, ta, k, tb, n, tt, n, false, inPlaceA: true);
            KernelThreads.For(2, part => { if (part == 0) Gemm.Multiply(false, false, m, n, k, ta, k, tb, n, ts, n, false, inPlaceA: true); });
        }
        KernelAssert.Close(expected, threaded, 1e-5f * k, $"in-place GEMM m={m} n={n} k={k}");
        Assert.Equal(serial, threaded);
    }

    /// <summary>
    /// A packed, every way the threads can split the work: a tall C in row chunks against B packed once for all threads
    /// (with the shared dimension in equal KC blocks, and past what one packing of B holds), a wide C in column chunks
    /// against A packed once for all threads (also past what one packing of A holds); the same bits as on one thread, and
    /// close to the reference. (With CONVKIT_THREADS = 1 both runs are on one thread.)
    /// </summary>
    [Theory]
    [InlineData(false, false, 1000, 200, 2048)]   // row chunks, two KC blocks
    [InlineData(true, true, 777, 129, 400)]       // row chunks, transposed operands, ragged edges
    [InlineData(false, true, 30, 900, 500)]       // column chunks
    [InlineData(true, true, 30, 900, 2500)]       // column chunks over three KC blocks
    [InlineData(false, false, 100, 1000, 3001)]   // column chunks, three KC blocks and a ragged last one (a dense layer)
    [InlineData(false, false, 2450, 2500, 12)]    // column chunks, many rows
    [InlineData(true, false, 40, 32, 200000)]     // row chunks over two packings of B (K·N past 6 · 2²⁰ floats)
    [InlineData(false, true, 24, 64, 270000)]     // column chunks over two packings of A (M·K past 6 · 2²⁰ floats)
    public unsafe void PackedGemmGivesTheSameBitsOnOneThreadAndOnAll(bool transposeA, bool transposeB, int m, int n, int k)
    {
        int lda = (transposeA ? m : k) + 1, ldb = (transposeB ? k : n) + 2;
        var a = KernelAssert.Random((transposeA ? k : m) * lda, 50);
        var b = KernelAssert.Random((transposeB ? n : k) * ldb, 51);
        var threaded = KernelAssert.Random(m * n, 52);
        var serial = (float[])threaded.Clone();
        var expected = (float[])threaded.Clone();
        fixed (float* pa = a, pb = b, pt = threaded, ps = serial)
        {
            float* ta = pa, tb = pb, tt = pt, ts = ps;
            Gemm.Multiply(transposeA, transposeB, m, n, k, ta, lda, tb, ldb, tt, n, accumulate: true);
            KernelThreads.For(2, part => { if (part == 0) Gemm.Multiply(transposeA, transposeB, m, n, k, ta, lda, tb, ldb, ts, n, accumulate: true); });
        }
        Assert.Equal(serial, threaded);
        GemmReference.Multiply(transposeA, transposeB, m, n, k, a, lda, b, ldb, expected, n, accumulate: true);
        KernelAssert.Close(expected, threaded, 1e-5f * k, $"packed GEMM ta={transposeA} tb={transposeB} m={m} n={n} k={k}");
    }

    /// <summary>
    /// The row chunks of a tall product cover every micro-panel of A once, in order, none past the largest allowed; on
    /// one thread all but the last are the largest, on more they never grow, the first holds at most half, and the last
    /// of them are small (at most eight panels where there are many), so a thread left behind holds the other up for
    /// little.
    /// </summary>
    [Theory]
    [InlineData(1, 2, 28)]
    [InlineData(7, 2, 28)]
    [InlineData(171, 1, 28)]
    [InlineData(171, 2, 28)]
    [InlineData(1000, 3, 28)]
    [InlineData(500, 2, 1)]
    [InlineData(90, 2, 5)]
    [InlineData(11, 2, 28)]     // a batch of 128 rows: no chunk more than a third of the whole
    public void RowChunksCoverThePanelsOnceLargestFirst(int panels, int threads, int maxPanels)
    {
        int count = Gemm.RowChunkCount(panels, threads, maxPanels);
        int expectedFirst = 0, previous = int.MaxValue;
        for (int i = 0; i < count; i++)
        {
            var (first, end) = Gemm.RowChunk(panels, threads, maxPanels, i);
            int size = end - first;
            Assert.Equal(expectedFirst, first);
            Assert.InRange(size, 1, maxPanels);
            if (threads == 1 && end < panels) Assert.Equal(maxPanels, size);
            if (threads > 1) Assert.True(size <= previous, $"chunk {i} of {size} panels follows one of {previous}");
            previous = size;
            expectedFirst = end;
        }
        Assert.Equal(panels, expectedFirst);
        if (threads > 1 && panels >= 8 * 2 * threads && maxPanels >= 8) Assert.True(previous <= 8, $"last chunk {previous} panels");
        if (threads > 1 && panels >= 3 * threads) Assert.True(Gemm.RowChunk(panels, threads, maxPanels, 0).End <= (panels + 1) / 2,
            "the first chunk holds more than half of the panels");
    }

    /// <summary>
    /// B packed once and multiplied by many A's (a convolution's kernel against its tiles): the same bits as the GEMM with
    /// A in place on one thread, whose blocks it keeps, for B as it lies and transposed, across KC, NC and MC and with
    /// ragged edges.
    /// </summary>
    [Theory]
    [InlineData(false, 112, 64, 800)]
    [InlineData(true, 112, 800, 64)]
    [InlineData(false, 1000, 33, 300)]
    [InlineData(true, 49, 2100, 130)]
    [InlineData(false, 7, 5, 0)]
    public unsafe void WholePackedBGivesTheBitsOfThePlainGemm(bool transposeB, int m, int n, int k)
    {
        int ldb = transposeB ? k + 3 : n + 3;
        var a = KernelAssert.Random(m * (k + 1), 40);
        var b = KernelAssert.Random((transposeB ? n : k) * ldb, 41);
        var plain = KernelAssert.Random(m * n, 42);
        var whole = KernelAssert.Random(m * n, 43);
        var packed = new float[Gemm.WholeBSize(n, k) + 16];
        fixed (float* pa = a, pb = b, pp = plain, pw = whole, pk = packed)
        {
            float* ta = pa, tb = pb, tp = pp, tw = pw, tk = pk;
            // Inside a parallel region the plain GEMM runs on one thread, as a tile's does.
            KernelThreads.For(2, part => { if (part == 0) Gemm.Multiply(false, transposeB, m, n, k, ta, k + 1, tb, ldb, tp, n, false, inPlaceA: true); });
            Gemm.PackWholeB(transposeB, n, k, tb, ldb, tk);
            Gemm.MultiplyWholeB(m, n, k, ta, k + 1, tk, tw, n, accumulate: false);
        }
        Assert.Equal(plain, whole);
        var expected = new float[m * n];
        GemmReference.Multiply(false, transposeB, m, n, k, a, k + 1, b, ldb, expected, n, false);
        KernelAssert.Close(expected, whole, 1e-5f * Math.Max(1, k), $"whole packed B m={m} n={n} k={k} tb={transposeB}");
    }

    /// <summary>The micro-kernels this machine can run, with their NR: the portable one always.</summary>
    public static TheoryData<string> MicroKernels()
    {
        var kernels = new TheoryData<string> { "portable" };
        if (Fma.IsSupported && Avx2.IsSupported) kernels.Add("avx2");
        if (Avx512F.IsSupported) kernels.Add("avx512");
        return kernels;
    }

    private static unsafe int RunMicroKernel(string kernel, int kc, int rows, float* a, nint rowStep, nint columnStep, float* b, float* c, nint ldc, bool overwrite)
    {
        switch (kernel)
        {
            case "avx2": GemmMicroKernel.Avx2Strided(kc, rows, a, rowStep, columnStep, b, c, ldc, overwrite); return 16;
            case "avx512": GemmMicroKernel.Avx512Strided(kc, rows, a, rowStep, columnStep, b, c, ldc, overwrite); return 32;
            default: GemmMicroKernel.PortableStrided(kc, rows, a, rowStep, columnStep, b, c, ldc, overwrite); return GemmMicroKernel.NR;
        }
    }

    private static int Width(string kernel) => kernel switch { "avx2" => 16, "avx512" => 32, _ => GemmMicroKernel.NR };

    /// <summary>Every micro-kernel, packed and strided A, whole and short tiles, odd kc and padded ldc, against a scalar sum.</summary>
    [Theory, MemberData(nameof(MicroKernels))]
    public unsafe void MicroKernelAgreesWithReference(string kernel)
    {
        const int mr = GemmMicroKernel.MR;
        int nr = Width(kernel), seed = 10;
        foreach (int kc in new[] { 1, 2, 7, 37, 130 })
            foreach (int rows in new[] { mr, 1, 4 })
                foreach (bool packed in new[] { true, false })
                    foreach (bool overwrite in new[] { true, false })
                    {
                        int ldc = nr + 3;
                        nint rowStep = packed ? 1 : kc + 2, columnStep = packed ? mr : 1;
                        var a = KernelAssert.Random(packed ? mr * kc : mr * (kc + 2), seed++);
                        var b = KernelAssert.Random(nr * kc, seed++);
                        var actual = KernelAssert.Random(mr * ldc, seed++);
                        var expected = (float[])actual.Clone();
                        for (int i = 0; i < mr; i++)
                            for (int j = 0; j < nr; j++)
                            {
                                double sum = 0;
                                int row = Math.Min(i, rows - 1);
                                for (int p = 0; p < kc; p++) sum += (double)a[row * rowStep + p * columnStep] * b[p * nr + j];
                                expected[i * ldc + j] = (float)(overwrite ? sum : expected[i * ldc + j] + sum);
                            }
                        fixed (float* pa = a, pb = b, pc = actual)
                            RunMicroKernel(kernel, kc, rows, pa, rowStep, columnStep, pb, pc, ldc, overwrite);
                        KernelAssert.Close(expected, actual, 1e-5f * kc, $"{kernel} micro-kernel kc={kc} rows={rows} packed={packed} overwrite={overwrite}");
                    }
    }

    /// <summary>
    /// The packed-A entry of every kernel against its strided form: A packed with <c>rows</c> rows is A strided with
    /// steps 1 and <c>rows</c>, run six rows at a time (the AVX-512 packed kernel has 12 rows, the others 6).
    /// </summary>
    [Theory, MemberData(nameof(MicroKernels))]
    public unsafe void PackedMicroKernelMatchesStrided(string kernel)
    {
        const int kc = 37, mr = GemmMicroKernel.MR;
        int nr = Width(kernel), rows = kernel == "avx512" ? 12 : mr;
        var a = KernelAssert.Random(rows * kc, 5);
        var b = KernelAssert.Random(nr * kc, 6);
        var strided = KernelAssert.Random(rows * nr, 7);
        var packed = (float[])strided.Clone();
        fixed (float* pa = a, pb = b, ps = strided, pk = packed)
        {
            for (int i0 = 0; i0 < rows; i0 += mr)
                RunMicroKernel(kernel, kc, mr, pa + i0, 1, rows, pb, ps + i0 * nr, nr, overwrite: false);
            switch (kernel)
            {
                case "avx2": GemmMicroKernel.Avx2Packed(kc, pa, pb, pk, nr, overwrite: false); break;
                case "avx512": GemmMicroKernel.Avx512Packed(kc, pa, pb, pk, nr, overwrite: false); break;
                default: GemmMicroKernel.PortablePacked(kc, pa, pb, pk, nr, overwrite: false); break;
            }
        }
        Assert.Equal(strided, packed);
    }

    /// <summary>
    /// The packed kernel with an epilogue (scale, bias, residual, ReLU, each present or not, overwriting and adding)
    /// gives the bits of the kernel without one followed by the epilogue's pass over the stored tile, NaN and
    /// infinities in A included: a NaN stays NaN through the ReLU, as in the pass (the x86 max instruction alone would
    /// make it 0). The selected kernel through the dispatcher (AVX-512, AVX2 or portable, whichever this process runs),
    /// and the AVX2 kernel directly where AVX-512 is selected.
    /// </summary>
    [Fact]
    public unsafe void PackedMicroKernelsApplyTheEpilogueAsThePassDoes()
    {
        Check(avx2: false, GemmMicroKernel.PackedMR, GemmMicroKernel.NR);
        if (GemmMicroKernel.Selected == GemmMicroKernel.Isa.Avx512 && Fma.IsSupported && Avx2.IsSupported) Check(avx2: true, GemmMicroKernel.MR, 16);

        static void Check(bool avx2, int rows, int nr)
        {
            const int kc = 37;
            int ldc = nr + 3;
            var a = KernelAssert.Random(rows * kc, 8);
            a[0] = float.NaN;                           // row 0
            a[kc * rows - 1] = float.PositiveInfinity;  // the last row
            a[kc * rows - 2] = float.NegativeInfinity;
            var b = KernelAssert.Random(nr * kc, 9);
            var bias = KernelAssert.Random(nr, 10);
            var scale = KernelAssert.Random(nr, 11);
            var residual = KernelAssert.Random(rows * ldc, 12);
            var start = KernelAssert.Random(rows * ldc, 13);
            for (int steps = 0; steps < 32; steps++)
            {
                bool withScale = (steps & 1) != 0, withBias = (steps & 2) != 0, withResidual = (steps & 4) != 0, relu = (steps & 8) != 0;
                bool overwrite = (steps & 16) != 0;
                var expected = (float[])start.Clone();
                var actual = (float[])start.Clone();
                fixed (float* pa = a, pb = b, pbias = bias, pscale = scale, pr = residual, pe = expected, pc = actual)
                {
                    float* tb = withBias ? pbias : null, ts = withScale ? pscale : null, tr = withResidual ? pr : null;
                    var epilogue = new TileEpilogue(tb, ts, tr, relu);
                    Run(avx2, kc, pa, pb, pe, ldc, overwrite, null);
                    Epilogue.ApplyHere(pe, rows, nr, ldc, tb, relu, ts, tr);
                    Run(avx2, kc, pa, pb, pc, ldc, overwrite, &epilogue);
                }
                KernelAssert.Exact(expected, actual, $"{(avx2 ? "avx2" : GemmMicroKernel.Selected)}, steps {steps}");
                Assert.Contains(actual, float.IsNaN);
            }
        }

        static void Run(bool avx2, int kc, float* a, float* b, float* c, int ldc, bool overwrite, TileEpilogue* epilogue)
        {
            if (avx2) GemmMicroKernel.Avx2Packed(kc, a, b, c, ldc, overwrite, epilogue);
            else GemmMicroKernel.Packed(kc, a, b, c, ldc, overwrite, epilogue);
        }
    }

    /// <summary>
    /// The twelve- to fourteen-row in-place AVX-512 kernels against calls of the six-row ones, bit for bit: overwriting
    /// and adding, with a padded row step and ldc, and the segmented form with a null piece; and the macro-kernel against
    /// the reference over ragged rows and columns. kc = 129 and the segmented form (depth 135) run the instantiation that
    /// prefetches B, the shallower ones the other unless asked to prefetch. The fourteen-row segmented kernel against
    /// six-, six- and two-row calls.
    /// </summary>
    [Fact]
    public unsafe void TwelveRowInPlaceKernelGivesTheBitsOfTwoSixRowTiles()
    {
        if (!Avx512F.IsSupported) return;
        const int mr = GemmMicroKernel.MR, nr = 32, ldc = nr + 5;
        foreach (int rows in new[] { 12, 13, 14 })
        foreach (int kc in new[] { 1, 3, 64, 129 })
            foreach (bool overwrite in new[] { true, false })
            foreach (bool fetchB in new[] { false, true })
            {
                int rowStep = kc + 7;
                var a = KernelAssert.Random(rows * rowStep, kc);
                var b = KernelAssert.Random(kc * nr, kc + 1);
                var six = KernelAssert.Random(18 * ldc, kc + 2);    // the six-row kernel writes six rows even when fewer are real
                var wide = six.AsSpan(0, rows * ldc).ToArray();
                fixed (float* pa = a, pb = b, pt = wide, ps = six)
                {
                    GemmMicroKernel.Avx512StridedRows(rows, kc, pa, rowStep, pb, pt, ldc, overwrite, fetchB);
                    for (int i0 = 0; i0 < rows; i0 += mr)
                        GemmMicroKernel.Avx512Strided(kc, Math.Min(mr, rows - i0), pa + i0 * rowStep, rowStep, 1, pb, ps + i0 * ldc, ldc, overwrite);
                }
                Assert.Equal(six.AsSpan(0, rows * ldc).ToArray(), wide);
            }
        // The segmented (direct-convolution) form: three pieces, the middle one all zero, against two six-row calls.
        {
            const int length = 45, rowStep = 50;
            var a = KernelAssert.Random(3 * 12 * rowStep + length, 80);
            var b = KernelAssert.Random(3 * length * nr, 81);
            var twelve = new float[12 * ldc];
            var six = new float[12 * ldc];
            fixed (float* pa = a, pb = b, pt = twelve, ps = six)
            {
                float** bases = stackalloc float*[3];
                bases[0] = pa; bases[1] = null; bases[2] = pa + 24 * rowStep;
                GemmMicroKernel.Avx512SegmentsRows12(3, bases, length, rowStep, pb, pt, ldc);
                float** shifted = stackalloc float*[3];
                for (int i0 = 0; i0 < 12; i0 += mr)
                {
                    for (int t = 0; t < 3; t++) shifted[t] = bases[t] == null ? null : bases[t] + i0 * rowStep;
                    GemmMicroKernel.Avx512Segments(3, shifted, length, rowStep, mr, pb, ps + i0 * ldc, ldc, overwrite: true);
                }
            }
            Assert.Equal(six, twelve);
        }
        // The fourteen-row form against six-, six- and two-row calls, with B deep enough to be prefetched and not,
        // overwriting C and adding to it.
        float** pieces = stackalloc float*[3];
        float** shiftedPieces = stackalloc float*[3];
        foreach (int length in new[] { 40, 200 })
            foreach (bool overwrite in new[] { true, false })
            {
                const int rowStep = 50;
                var a = KernelAssert.Random(3 * 14 * rowStep + length, 82);
                var b = KernelAssert.Random(3 * length * nr, 83);
                var six = KernelAssert.Random(18 * ldc, 84);    // the six-row kernel writes six rows even when fewer are real
                var fourteen = six.AsSpan(0, 14 * ldc).ToArray();
                fixed (float* pa = a, pb = b, pt = fourteen, ps = six)
                {
                    pieces[0] = pa + 28 * rowStep; pieces[1] = null; pieces[2] = pa;
                    GemmMicroKernel.Avx512SegmentsRows14(3, pieces, length, rowStep, pb, pt, ldc, overwrite);
                    for (int i0 = 0; i0 < 14; i0 += mr)
                    {
                        for (int t = 0; t < 3; t++) shiftedPieces[t] = pieces[t] == null ? null : pieces[t] + i0 * rowStep;
                        GemmMicroKernel.Avx512Segments(3, shiftedPieces, length, rowStep, Math.Min(mr, 14 - i0), pb, ps + i0 * ldc, ldc, overwrite);
                    }
                }
                Assert.Equal(six.AsSpan(0, 14 * ldc).ToArray(), fourteen);
            }
        // Through the macro-kernel: 12-row tiles, then a 6-row one, then 5 rows through the scratch tile; 40 columns.
        const int m = 12 + 12 + 6 + 5, n = 40, k = 70;
        var ma = KernelAssert.Random(m * (k + 2), 90);
        var mb = KernelAssert.Random(k * n, 91);
        var expected = new float[m * n];
        var actual = new float[m * n];
        GemmReference.Multiply(false, false, m, n, k, ma, k + 2, mb, n, expected, n, false);
        fixed (float* pa = ma, pb = mb, pc = actual)
            Gemm.Multiply(false, false, m, n, k, pa, k + 2, pb, n, pc, n, false, inPlaceA: true);
        KernelAssert.Close(expected, actual, 1e-5f * k, "twelve-row in-place GEMM");
    }

    /// <summary>
    /// The in-place macro-kernel's row tiles: one to three rows past the twelve-row tiles join them as 13 or 13 + 14
    /// (49 rows as 12 + 12 + 12 + 13), four join the last two as 14 + 14 (28 and 52 rows), and every row keeps the bits it has when all rows go six at a time (A read with
    /// its columns apart, which the wide kernels do not take).
    /// </summary>
    [Fact]
    public unsafe void InPlaceRowTilesOfThirteenAndFourteenGiveTheBitsOfSixRowTiles()
    {
        Assert.Equal(new[] { 12, 12, 12, 13 }, Tiles(49));
        Assert.Equal(new[] { 13, 14 }, Tiles(27));
        Assert.Equal(new[] { 14, 14 }, Tiles(28));
        Assert.Equal(new[] { 12, 12, 14, 14 }, Tiles(52));  // four rows past the twelve-row tiles join the last two
        Assert.Equal(new[] { 12 }, Tiles(15));
        Assert.Empty(Tiles(11));
        if (!Avx512F.IsSupported) return;
        const int nr = 32, kc = 70;
        foreach (int m in new[] { 13, 14, 15, 25, 26, 27, 28, 39, 49, 50, 51, 52 })
            foreach (bool overwrite in new[] { true, false })
            {
                int n = 2 * nr + 3, rowStep = kc + 3;
                var a = KernelAssert.Random(m * rowStep, m);
                var transposed = new float[kc * m];    // the same A with its rows adjacent and its columns m apart
                for (int i = 0; i < m; i++)
                    for (int p = 0; p < kc; p++) transposed[p * m + i] = a[i * rowStep + p];
                var b = KernelAssert.Random(kc * n, m + 1);
                var packed = new float[3 * nr * kc];
                var wide = KernelAssert.Random(m * n, m + 2);
                var six = (float[])wide.Clone();
                fixed (float* pa = a, pat = transposed, pb = b, pp = packed, pw = wide, ps = six)
                {
                    GemmPacking.PackB(false, kc, n, pb, n, 0, 3, pp);
                    GemmMacroKernel.Strided(m, n, kc, pa, rowStep, 1, pp, pw, n, overwrite);
                    GemmMacroKernel.Strided(m, n, kc, pat, 1, m, pp, ps, n, overwrite);
                }
                Assert.Equal(six, wide);
            }

        static int[] Tiles(int rows)
        {
            var tiles = new List<int>();
            for (int left = rows, t; (t = GemmMacroKernel.WideTileRows(left)) > 0; left -= t) tiles.Add(t);
            return [.. tiles];
        }
    }

    /// <summary>
    /// The two-run AVX-512 kernel (two runs of seven rows anywhere, each with its own C rows) against six-row segmented
    /// calls on each run, bit for bit: runs apart, the second before the first, and one run twice (the last odd run of a
    /// convolution), with B deep enough to stream and not, each segment one piece or two pieces apart; and the one-run
    /// kernel on the second run.
    /// </summary>
    [Fact]
    public unsafe void TwoRunKernelGivesTheBitsOfSixRowCalls()
    {
        if (!Avx512F.IsSupported) return;
        const int mr = GemmMicroKernel.MR, nr = 32, ldc = nr + 3, rowStep = 20, segments = 3;
        float** pieces = stackalloc float*[2 * segments];
        foreach (int length in new[] { 5, 300 })
            foreach (int perSegment in new[] { 1, 2 })
                foreach (var (firstRun, secondRun) in new[] { (0, 400), (500, 40), (64, 64) })
                {
                    int pieceStep = length + 9, segmentStep = 7 * rowStep + perSegment * pieceStep;
                    var windows = new RunWindows(segments, perSegment, segmentStep, pieceStep, length, rowStep);
                    var a = KernelAssert.Random(1200 + segments * segmentStep, length);
                    var b = KernelAssert.Random(windows.Pieces * length * nr, length + 1);
                    var expected = KernelAssert.Random(40 * ldc, length + 2);    // the six-row kernel writes six rows even when fewer are real
                    var actual = (float[])expected.Clone();
                    int firstC = 0, secondC = firstRun == secondRun ? 0 : 14 * ldc;
                    var one = new float[7 * ldc];
                    fixed (float* pa = a, pb = b, pe = expected, pt = actual, po = one)
                    {
                        GemmMicroKernel.Avx512TwoRuns(windows, pa + firstRun, secondRun - firstRun, pb, pt + firstC, secondC - firstC, ldc);
                        GemmMicroKernel.Avx512OneRun(windows, pa + secondRun, pb, po, ldc);
                        foreach (var (run, c) in new[] { (firstRun, firstC), (secondRun, secondC) })
                            for (int i0 = 0; i0 < 7; i0 += mr)
                            {
                                for (int t = 0; t < windows.Pieces; t++)
                                    pieces[t] = pa + run + t / perSegment * segmentStep + t % perSegment * pieceStep + i0 * rowStep;
                                GemmMicroKernel.Avx512Segments(windows.Pieces, pieces, length, rowStep, Math.Min(mr, 7 - i0), pb, pe + c + i0 * ldc, ldc, overwrite: true);
                            }
                    }
                    foreach (int c in new[] { firstC, secondC })
                        Assert.Equal(expected.AsSpan(c, 7 * ldc).ToArray(), actual.AsSpan(c, 7 * ldc).ToArray());
                    for (int i = 0; i < 7; i++)
                        Assert.Equal(expected.AsSpan(secondC + i * ldc, nr).ToArray(), one.AsSpan(i * ldc, nr).ToArray());
                }
    }

    /// <summary>
    /// The AVX2 segmented kernel over several blocks of six rows in one call against one call per block: the same bits,
    /// the blocks' pieces and C rows one block apart, a null piece skipped, nothing written past the last block.
    /// </summary>
    [Fact]
    public unsafe void Avx2SegmentsOverBlocksMatchOneCallPerBlock()
    {
        if (!Fma.IsSupported || !Avx2.IsSupported) return;
        const int mr = GemmMicroKernel.MR, nr = GemmMicroKernel.NR256, length = 15, rowStep = 3, ldc = nr + 5, blocks = 4;
        var a = KernelAssert.Random(3 * 200, 40);
        var b = KernelAssert.Random(3 * length * nr, 41);
        var actual = KernelAssert.Random((blocks * mr + 2) * ldc, 42);
        var expected = (float[])actual.Clone();
        fixed (float* pa = a, pb = b, pc = actual, pe = expected)
        {
            float** bases = stackalloc float*[3];
            foreach (bool overwrite in new[] { true, false })
            {
                bases[0] = pa; bases[1] = null; bases[2] = pa + 400;
                GemmMicroKernel.Avx2Segments(3, bases, length, rowStep, mr, pb, pc, ldc, overwrite, blocks);
                for (int block = 0; block < blocks; block++)
                {
                    bases[0] = pa + block * mr * rowStep; bases[2] = pa + 400 + block * mr * rowStep;
                    GemmMicroKernel.Avx2Segments(3, bases, length, rowStep, mr, pb, pe + block * mr * ldc, ldc, overwrite);
                }
                Assert.Equal(expected, actual);
            }
        }
    }

    /// <summary>The AVX-512 16-filter direct kernel over several blocks of twelve rows in one call against one call per block.</summary>
    [Fact]
    public unsafe void Avx512Segments16OverBlocksMatchOneCallPerBlock()
    {
        if (!Avx512F.IsSupported) return;
        const int rows = GemmMicroKernel.Segments16Rows, length = 15, rowStep = 3, ldc = 21, blocks = 3;
        var a = KernelAssert.Random(3 * 300, 43);
        var b = KernelAssert.Random(3 * length * 16, 44);
        var actual = KernelAssert.Random((blocks * rows + 2) * ldc, 45);
        var expected = (float[])actual.Clone();
        fixed (float* pa = a, pb = b, pc = actual, pe = expected)
        {
            float** bases = stackalloc float*[3];
            bases[0] = pa; bases[1] = null; bases[2] = pa + 600;
            GemmMicroKernel.Avx512Segments16(3, bases, length, rowStep, pb, pc, ldc, blocks);
            for (int block = 0; block < blocks; block++)
            {
                bases[0] = pa + block * rows * rowStep; bases[2] = pa + 600 + block * rows * rowStep;
                GemmMicroKernel.Avx512Segments16(3, bases, length, rowStep, pb, pe + block * rows * ldc, ldc);
            }
        }
        Assert.Equal(expected, actual);
    }


    [Theory, MemberData(nameof(MicroKernels))]
    public unsafe void SegmentsMicroKernelSkipsNullPieces(string kernel)
    {
        const int mr = GemmMicroKernel.MR, length = 11, rowStep = 29;
        int nr = Width(kernel);
        var a = KernelAssert.Random(3 * mr * rowStep, 20);
        var b = KernelAssert.Random(3 * length * nr, 21);
        var actual = new float[mr * nr];
        var expected = new float[mr * nr];
        fixed (float* pa = a, pb = b, pc = actual, pe = expected)
        {
            float** bases = stackalloc float*[3];
            bases[0] = pa; bases[1] = null; bases[2] = pa + 2 * mr * rowStep;
            switch (kernel)
            {
                case "avx2": GemmMicroKernel.Avx2Segments(3, bases, length, rowStep, 5, pb, pc, nr, overwrite: true); break;
                case "avx512": GemmMicroKernel.Avx512Segments(3, bases, length, rowStep, 5, pb, pc, nr, overwrite: true); break;
                default: GemmMicroKernel.PortableSegments(3, bases, length, rowStep, 5, pb, pc, nr, overwrite: true); break;
            }
            RunMicroKernel(kernel, length, 5, bases[0], rowStep, 1, pb, pe, nr, overwrite: true);
            RunMicroKernel(kernel, length, 5, bases[2], rowStep, 1, pb + 2 * length * nr, pe, nr, overwrite: false);
        }
        KernelAssert.Close(expected, actual, 1e-5f * length, $"{kernel} segments");
    }

    /// <summary>
    /// The column-read segmented entry (a convolution's kernel gradient) of every kernel against a scalar sum: A_t's
    /// columns adjacent at a column step, a null piece skipped, every row count up to the kernel's most (seven to eleven
    /// rows run as six and the rest with AVX-512), adding and overwriting, all pieces null. Rows of C past the count up to
    /// the next multiple of six hold copies of the last row; rows after those are not touched.
    /// </summary>
    [Theory, MemberData(nameof(MicroKernels))]
    public unsafe void ColumnSegmentsMicroKernelAgreesWithReference(string kernel)
    {
        const int mr = GemmMicroKernel.MR, offset = 3, columnStep = 19, cRows = 2 * mr + 1;
        int nr = Width(kernel), maxRows = kernel == "avx512" ? 2 * mr : mr, ldc = nr + 3, seed = 30;
        float** bases = stackalloc float*[3];
        foreach (int length in new[] { 1, 2, 5, 14 })
            foreach (int rows in Enumerable.Range(1, maxRows))
                foreach (bool overwrite in new[] { true, false })
                    foreach (bool allNull in new[] { false, true })
                    {
                        var a = KernelAssert.Random(3 * (offset + length * columnStep), seed++);
                        var b = KernelAssert.Random(3 * length * nr, seed++);
                        var actual = KernelAssert.Random(cRows * ldc, seed++);
                        var expected = (float[])actual.Clone();
                        int written = (rows + mr - 1) / mr * mr, pieceLength = offset + length * columnStep;
                        int[] pieces = allNull ? [] : [0, 2];
                        for (int i = 0; i < written; i++)
                            for (int j = 0; j < nr; j++)
                            {
                                double sum = 0;
                                foreach (int t in pieces)
                                    for (int p = 0; p < length; p++)
                                        sum += (double)a[t * pieceLength + offset + Math.Min(i, rows - 1) + p * columnStep] * b[(t * length + p) * nr + j];
                                expected[i * ldc + j] = (float)(overwrite ? sum : expected[i * ldc + j] + sum);
                            }
                        fixed (float* pa = a, pb = b, pc = actual)
                        {
                            bases[0] = allNull ? null : pa; bases[1] = null; bases[2] = allNull ? null : pa + 2 * pieceLength;
                            switch (kernel)
                            {
                                case "avx2": GemmMicroKernel.Avx2ColumnSegments(3, bases, offset, length, columnStep, rows, pb, pc, ldc, overwrite); break;
                                case "avx512": GemmMicroKernel.Avx512ColumnSegments(3, bases, offset, length, columnStep, rows, pb, pc, ldc, overwrite); break;
                                default: GemmMicroKernel.PortableColumnSegments(3, bases, offset, length, columnStep, rows, pb, pc, ldc, overwrite); break;
                            }
                        }
                        KernelAssert.Close(expected, actual, 1e-5f * (2 * length + 1),
                            $"{kernel} column segments length={length} rows={rows} overwrite={overwrite} allNull={allNull}");
                    }
    }

    /// <summary>
    /// After the first calls, a product or a convolution takes its packing and column buffers from the pool. A product
    /// allocates nothing at all (its parallel loops' items are structs); what a convolution still allocates on the calling
    /// thread (its parallel loops' delegates, a few hundred bytes) does not grow with it, where a buffer allocated per call
    /// would be a megabyte here.
    /// </summary>
    [Fact]
    public void SteadyStateCallsAllocateNoBuffers()
    {
        const int Size = 512;
        var a = KernelAssert.Random(Size * Size, 1);
        var b = KernelAssert.Random(Size * Size, 2);
        var c = new float[Size * Size];
        var g = ConvGeometry.Create(2, 28, 28, 32, 64, 3, 3, 2, 2, 1, 1, Padding.Same);    // stride 2: im2col tiles
        var input = KernelAssert.Random(g.InputSize, 3);
        var kernel = KernelAssert.Random(g.KernelSize, 4);
        var output = new float[g.OutputSize];
        var runs = new (string Name, Action Run)[]
        {
            ("GEMM", () => Gemm.Multiply(false, false, Size, Size, Size, a, Size, b, Size, c, Size, accumulate: false)),
            ("GEMM Aᵀ Bᵀ", () => Gemm.Multiply(true, true, Size, Size, Size, a, Size, b, Size, c, Size, accumulate: false)),
            ("convolution", () => ConvolutionFast.Forward(input, kernel, default, g, output)),
            ("convolution input gradient", () => ConvolutionFast.BackwardInput(output, kernel, g, input)),
            ("convolution kernel gradient", () => ConvolutionFast.BackwardKernel(output, input, g, kernel)),
        };
        foreach (var (name, run) in runs)
        {
            // Which thread takes which chunk varies, so a thread's buffers may still grow on a later call, once per size:
            // the median call is the steady state.
            for (int call = 0; call < 3; call++) run();
            var perCall = new long[9];
            for (int call = 0; call < perCall.Length; call++)
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                run();
                perCall[call] = GC.GetAllocatedBytesForCurrentThread() - before;
            }
            Array.Sort(perCall);
            long limit = name.StartsWith("GEMM") ? 0 : 16 << 10;
            Assert.True(perCall[4] <= limit, $"{name}: {perCall[4]} bytes allocated by the median call ({string.Join(", ", perCall)})");
        }
    }

    [Fact]
    public void ShortOperandsAreRejected()
    {
        var a = new float[5];
        var b = new float[6];
        var c = new float[4];
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(false, false, 2, 2, 3, a, 3, b, 2, c, 2, false));
    }
}
