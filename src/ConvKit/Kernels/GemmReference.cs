namespace ConvKit.Kernels;

/// <summary>
/// The plain definition of single-precision matrix multiplication, row-major:
/// <c>C[m,n] (+)= Σ_k op(A)[m,k] · op(B)[k,n]</c>, where <c>op(A)</c> is A [M, K] or, transposed, Aᵀ with A stored [K, M].
/// </summary>
internal static class GemmReference
{
    public static void Multiply(
        bool transposeA, bool transposeB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda,     // [M, K] (lda ≥ K), or [K, M] (lda ≥ M) when transposed
        ReadOnlySpan<float> b, int ldb,     // [K, N] (ldb ≥ N), or [N, K] (ldb ≥ K) when transposed
        Span<float> c, int ldc,             // [M, N] (ldc ≥ N)
        bool accumulate)
    {
        for (int i = 0; i < m; i++)
        {
            var row = c.Slice(i * ldc, n);
            if (!accumulate) row.Clear();
            for (int p = 0; p < k; p++)
            {
                float x = transposeA ? a[p * lda + i] : a[i * lda + p];
                if (transposeB) for (int j = 0; j < n; j++) row[j] += x * b[j * ldb + p];
                else { var bRow = b.Slice(p * ldb, n); for (int j = 0; j < n; j++) row[j] += x * bRow[j]; }
            }
        }
    }
}
