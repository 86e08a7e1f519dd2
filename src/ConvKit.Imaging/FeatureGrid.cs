using ConvKit.Tensors;

namespace ConvKit.Imaging;

/// <summary>
/// Pictures of what a convolutional layer sees: its feature maps, or its filters, side by side in a grid, as images
/// <c>(height, width, channels)</c> in [0, 1] for <see cref="ImageIO.SavePng"/>.
/// </summary>
/// <remarks>
/// Each cell is scaled on its own: min–max to [0, 1], so the strongest response of a map (or the largest weight of a
/// filter) is white and the weakest black; a constant cell is black. Cells are enlarged by a whole factor (nearest
/// neighbour) until their longer side is at least <see cref="MinCellPixels"/> pixels, so 3×3 filters and 7×7 maps stay
/// visible, and are separated by one white pixel. With no column count the grid is as square as the cells allow:
/// ⌈√n⌉ columns.
/// </remarks>
public static class FeatureGrid
{
    /// <summary>The length in pixels that a cell's longer side reaches at least, by a whole enlargement factor.</summary>
    public const int MinCellPixels = 48;

    /// <summary>
    /// The C feature maps of <paramref name="maps"/> <c>(H, W, C)</c> or <c>(1, H, W, C)</c> as one grayscale grid
    /// <c>(rows·(H·f + 1) − 1, columns·(W·f + 1) − 1, 1)</c>, map c in row c / columns, column c % columns, where f is the
    /// enlargement factor: the smallest that makes the longer side at least <paramref name="minCellPixels"/> pixels.
    /// </summary>
    public static Tensor Maps(Tensor maps, int columns = 0, int minCellPixels = MinCellPixels)
    {
        ArgumentNullException.ThrowIfNull(maps);
        var shape = maps.Shape;
        if (!(shape.Rank == 3 || (shape.Rank == 4 && shape[0] == 1)))
            throw new ArgumentException($"FeatureGrid.Maps takes feature maps (H, W, C) or (1, H, W, C); received {shape}.", nameof(maps));
        int height = shape[^3], width = shape[^2], count = shape[^1];
        var values = maps.ToArray();
        return Grid(count, height, width, 1, columns, minCellPixels, (cell, y, x, _) => values[(y * width + x) * count + cell]);
    }

    /// <summary>
    /// The filters of a 2-D convolution kernel <paramref name="kernel"/> <c>(R, S, C, K)</c> (Keras's layout) as a grid of K
    /// cells of R × S pixels: in colour when the filters read three channels (an RGB input layer), each filter scaled over
    /// all three; otherwise in gray, each cell filter k's weights on input channel <paramref name="channel"/>.
    /// </summary>
    public static Tensor Filters(Tensor kernel, int columns = 0, int channel = 0)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        var shape = kernel.Shape;
        if (shape.Rank != 4)
            throw new ArgumentException($"FeatureGrid.Filters takes a 2-D convolution kernel (R, S, C, K); received {shape}.", nameof(kernel));
        int rows = shape[0], cols = shape[1], inputs = shape[2], filters = shape[3];
        bool rgb = inputs == 3;
        if (!rgb && (channel < 0 || channel >= inputs))
            throw new ArgumentOutOfRangeException(nameof(channel), $"The kernel {shape} reads {inputs} input channels; received channel {channel}.");
        var values = kernel.ToArray();
        return Grid(filters, rows, cols, rgb ? 3 : 1, columns, MinCellPixels,
            (cell, y, x, c) => values[((y * cols + x) * inputs + (rgb ? c : channel)) * filters + cell]);
    }

    /// <summary>The enlargement factor for cells of <paramref name="height"/> × <paramref name="width"/>.</summary>
    public static int Scale(int height, int width, int minCellPixels = MinCellPixels) =>
        Math.Max(1, (minCellPixels + Math.Max(height, width) - 1) / Math.Max(height, width));

    /// <summary>Lays out <paramref name="cells"/> cells whose values <paramref name="value"/>(cell, y, x, channel) gives.</summary>
    private static Tensor Grid(int cells, int height, int width, int channels, int columns, int minCellPixels, Func<int, int, int, int, float> value)
    {
        if (minCellPixels < 1) throw new ArgumentOutOfRangeException(nameof(minCellPixels), $"Cells need at least one pixel; received {minCellPixels}.");
        if (cells <= 0 || height <= 0 || width <= 0) throw new ArgumentException($"A grid needs at least one cell of at least one pixel; received {cells} cells of {height}×{width}.");
        if (columns < 0) throw new ArgumentOutOfRangeException(nameof(columns), $"Columns must be positive, or 0 for a square grid; received {columns}.");
        if (columns == 0) columns = (int)Math.Ceiling(Math.Sqrt(cells));
        columns = Math.Min(columns, cells);
        int rows = (cells + columns - 1) / columns, f = Scale(height, width, minCellPixels);
        int cellHeight = height * f, cellWidth = width * f;
        long pixels = (long)(rows * (cellHeight + 1) - 1) * (columns * (cellWidth + 1) - 1);
        if (pixels > ImageIO.MaxPixels)
            throw new ArgumentException($"A grid of {cells} cells of {height}×{width} would be {pixels:N0} pixels; at most {ImageIO.MaxPixels:N0} are written.");
        int gridHeight = rows * (cellHeight + 1) - 1, gridWidth = columns * (cellWidth + 1) - 1;
        var grid = Tensor.Zeros(gridHeight, gridWidth, channels);
        var pixelsOut = grid.Span;
        pixelsOut.Fill(1f);     // the white lines between cells
        for (int cell = 0; cell < cells; cell++)
        {
            float min = float.PositiveInfinity, max = float.NegativeInfinity;
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                    for (int c = 0; c < channels; c++)
                    {
                        float v = value(cell, y, x, c);
                        if (float.IsFinite(v)) { min = Math.Min(min, v); max = Math.Max(max, v); }
                    }
            float range = max - min;
            int top = cell / columns * (cellHeight + 1), left = cell % columns * (cellWidth + 1);
            for (int y = 0; y < cellHeight; y++)
                for (int x = 0; x < cellWidth; x++)
                    for (int c = 0; c < channels; c++)
                    {
                        float v = value(cell, y / f, x / f, c);
                        pixelsOut[((top + y) * gridWidth + left + x) * channels + c] = range > 0 && float.IsFinite(v) ? (v - min) / range : 0f;
                    }
        }
        return grid;
    }
}
