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
        Check(transposeA, transposeB, 301, 45, 530, pad: 3, accumulate: false, seed: 1);   // rows over MC, k over KC
        Check(transposeA, transposeB, 7, 4100, 9, pad: 0, accumulate: true, seed: 2);     // columns over NC
        Check(transposeA, transposeB, 200, 200, 260, pad: 5, accumulate: true, seed: 3);  // threaded, odd edges
        Check(transposeA, transposeB, 1000, 13, 80, pad: 1, accumulate: false, seed: 4);  // one micro-panel of B: A read in place
        Check(transposeA, transposeB, 10, 3000, 40, pad: 2, accumulate: true, seed: 5);   // few rows: threads split the columns
    }

    [Fact]
    public unsafe void PortableMicroKernelMatchesAvx2()
    {
        const int kc = 37, mr = GemmMicroKernel.MR, nr = GemmMicroKernel.NR;
        var a = KernelAssert.Random(mr * kc, 5);
        var b = KernelAssert.Random(nr * kc, 6);
        var portable = KernelAssert.Random(mr * nr, 7);
        var packed = (float[])portable.Clone();
        fixed (float* pa = a, pb = b, pp = portable, pk = packed)
        {
            GemmMicroKernel.PortablePacked(kc, pa, pb, pp, nr, overwrite: false);
            GemmMicroKernel.Packed(kc, pa, pb, pk, nr, overwrite: false);
        }
        KernelAssert.Close(portable, packed, 1e-5f, "micro-kernel");
    }

    [Fact]
    public void DispatchRunsTheFastKernel()
    {
        var a = KernelAssert.Random(12, 8);
        var b = KernelAssert.Random(12, 9);
        var c = new float[9];
        var expected = new float[9];
        GemmKernels.Multiply(false, false, 3, 3, 4, a, 4, b, 3, c, 3, accumulate: false);
        GemmReference.Multiply(false, false, 3, 3, 4, a, 4, b, 3, expected, 3, accumulate: false);
        KernelAssert.Close(expected, c, 1e-5f, "GemmKernels");
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
