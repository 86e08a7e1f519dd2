using ConvKit.Autograd;
using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Tests.Operations;

/// <summary>
/// Softmax and log-softmax, forward and backward, against their definitions computed in float64:
/// y_i = e^(x_i − m) / Σ_j e^(x_j − m) with m = max_j x_j, log y_i = x_i − m − log Σ_j e^(x_j − m),
/// softmax dx_i = y_i · (dy_i − Σ_j dy_j · y_j), log-softmax dx_i = dy_i − y_i · Σ_j dy_j.
/// </summary>
public class ActivationsTests
{
    public static TheoryData<int, int, float, float> Rows()
    {
        var data = new TheoryData<int, int, float, float>();
        foreach (int length in new[] { 1, 3, 7, 17, 33, 1000 })
            foreach (var (spread, offset) in new[] { (3f, 0f), (80f, 0f), (3f, 500f), (3f, -500f) })
                data.Add(3, length, spread, offset);
        data.Add(300, 1000, 80f, 0f);   // 300,000 values: the rows split across the threads
        return data;
    }

    /// <summary>
    /// Rows of logits uniform in <paramref name="offset"/> ± <paramref name="spread"/>, batches of 3 or 300: at ±80,
    /// e^(x − m) spans e^−160 (0 in float32) to 1; at 500 ± 3, e^x alone would overflow float32 and x − m must be taken
    /// before anything is rounded at the scale of 500. Every row, every element.
    /// </summary>
    [Theory, MemberData(nameof(Rows))]
    public void SoftmaxAndLogSoftmaxAgreeWithFloat64(int rows, int length, float spread, float offset)
    {
        var x = Tensor.RandomUniform(new Shape(rows, length), offset - spread, offset + spread, rows + length);
        var dy = Tensor.RandomNormal(new Shape(rows, length), 0f, 1f, rows + length + 1);
        CheckRows(x, dy);
    }

    /// <summary>A rank-3 batch along its last axis, and a matrix along axis 0 (moved last and back).</summary>
    [Fact]
    public void OtherRanksAndAxesAgreeWithFloat64()
    {
        var x = Tensor.RandomUniform(new Shape(2, 5, 17), -80f, 80f, 1);
        var dy = Tensor.RandomNormal(new Shape(2, 5, 17), 0f, 1f, 2);
        CheckRows(x, dy);

        var columns = Tensor.RandomUniform(new Shape(7, 4), -80f, 80f, 3);
        var columnsDy = Tensor.RandomNormal(new Shape(7, 4), 0f, 1f, 4);
        var (y, dx) = Run(t => Ops.Softmax(t, 0), columns, columnsDy);
        var (logY, logDx) = Run(t => Ops.LogSoftmax(t, 0), columns, columnsDy);
        // Each column is a row of the transposed matrix.
        Compare(Transposed(columns.ToArray(), 7, 4), Transposed(columnsDy.ToArray(), 7, 4), 7,
            Transposed(y, 7, 4), Transposed(logY, 7, 4), Transposed(dx, 7, 4), Transposed(logDx, 7, 4));
    }

    private static void CheckRows(Tensor x, Tensor dy)
    {
        var (y, dx) = Run(t => Ops.Softmax(t), x, dy);
        var (logY, logDx) = Run(t => Ops.LogSoftmax(t), x, dy);
        Compare(x.ToArray(), dy.ToArray(), x.Shape[-1], y, logY, dx, logDx);
    }

    /// <summary>
    /// Against the definitions in float64, row by row (rows of <paramref name="length"/> contiguous values). Softmax
    /// within 1e-6 of each value (float32 rounding of e^(x − m) and of a sum of up to 1000 terms), or below 1e-37 where
    /// the value underflows; log-softmax within 1e-6 of each value, also near 0 (a confident row's top class); each
    /// gradient within 1e-5 of the size of its terms.
    /// </summary>
    private static void Compare(float[] x, float[] dy, int length, float[] gotY, float[] gotLogY, float[] gotDx, float[] gotLogDx)
    {
        var y = new double[length];
        for (int row = 0; row < x.Length; row += length)
        {
            double max = double.NegativeInfinity, sum = 0, dot = 0, sumDy = 0, dotSize = 0, sumSize = 0;
            for (int j = 0; j < length; j++) max = Math.Max(max, x[row + j]);
            for (int j = 0; j < length; j++) sum += Math.Exp(x[row + j] - max);
            for (int j = 0; j < length; j++)
            {
                y[j] = Math.Exp(x[row + j] - max) / sum;
                dot += dy[row + j] * y[j];
                sumDy += dy[row + j];
                dotSize += Math.Abs(dy[row + j]) * y[j];
                sumSize += Math.Abs(dy[row + j]);
            }
            for (int j = 0; j < length; j++)
            {
                int i = row + j;
                double logY = x[i] - max - Math.Log(sum);
                Within(y[j], gotY[i], 1e-6 * y[j] + 1e-37, "softmax", i);
                Within(logY, gotLogY[i], 1e-6 * Math.Abs(logY), "log-softmax", i);
                Within(y[j] * (dy[i] - dot), gotDx[i], 1e-5 * y[j] * (Math.Abs(dy[i]) + dotSize) + 1e-37, "softmax gradient", i);
                Within(dy[i] - y[j] * sumDy, gotLogDx[i], 1e-5 * (Math.Abs(dy[i]) + y[j] * sumSize), "log-softmax gradient", i);
            }
        }
    }

    private static void Within(double expected, float actual, double tolerance, string what, int i)
    {
        if (!(Math.Abs(expected - actual) <= tolerance))
            Assert.Fail($"{what}: element {i} expected {expected:R} but was {actual:R} (tolerance {tolerance:G3}).");
    }

    private static T[] Transposed<T>(T[] values, int rows, int columns)
    {
        var result = new T[values.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++) result[c * rows + r] = values[r * columns + c];
        return result;
    }

    private static (float[] Y, float[] Dx) Run(Func<Tensor, Tensor> f, Tensor x, Tensor dy) => Kernels.ActivationKernelsTests.Run(f, x, dy);
}
