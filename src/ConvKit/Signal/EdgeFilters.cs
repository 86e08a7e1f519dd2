namespace ConvKit.Signal;

/// <summary>
/// Classic 3×3 filters that find edges, for cross-correlation (as Conv2D applies them): each responds
/// strongly where brightness changes across its direction and gives zero on flat regions.
/// </summary>
public static class EdgeFilters
{
    /// <summary>Sobel, responds to vertical edges (brightness changing from left to right).</summary>
    public static double[,] Vertical => new double[,] { { -1, 0, 1 }, { -2, 0, 2 }, { -1, 0, 1 } };

    /// <summary>Sobel, responds to horizontal edges (brightness changing from top to bottom).</summary>
    public static double[,] Horizontal => new double[,] { { -1, -2, -1 }, { 0, 0, 0 }, { 1, 2, 1 } };

    /// <summary>Responds to edges along the main diagonal (brightness changing from the top-right to the bottom-left).</summary>
    public static double[,] Diagonal => new double[,] { { 0, 1, 2 }, { -1, 0, 1 }, { -2, -1, 0 } };

    /// <summary>Responds to edges along the anti-diagonal (brightness changing from the top-left to the bottom-right).</summary>
    public static double[,] AntiDiagonal => new double[,] { { -2, -1, 0 }, { -1, 0, 1 }, { 0, 1, 2 } };

    /// <summary>
    /// The four filters stacked as a Conv2D kernel (3, 3, channels, 4) that applies each filter to the mean of the
    /// input channels, so one layer finds vertical, horizontal, diagonal and anti-diagonal edges at once.
    /// </summary>
    public static Tensors.Tensor AsConv2DKernel(int channels = 1)
    {
        var filters = new[] { Vertical, Horizontal, Diagonal, AntiDiagonal };
        var kernel = Tensors.Tensor.Zeros(3, 3, channels, filters.Length);
        for (int r = 0; r < 3; r++)
            for (int s = 0; s < 3; s++)
                for (int c = 0; c < channels; c++)
                    for (int k = 0; k < filters.Length; k++)
                        kernel[r, s, c, k] = (float)(filters[k][r, s] / channels);
        return kernel;
    }
}
