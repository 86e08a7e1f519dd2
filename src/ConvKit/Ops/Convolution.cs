using ConvKit.Autograd;
using ConvKit.Kernels;
using ConvKit.Tensors;

namespace ConvKit.Operations;

/// <summary>
/// 2-D convolution as layers compute it (cross-correlation, no flip), channels-last.
/// out[n,p,q,k] = bias[k] + Σ_{r,s,c} in[n, p·sh − pt + r·dh, q·sw − pl + s·dw, c] · w[r,s,c,k].
/// dIn and dW are the two transposed correlations; dBias[k] = Σ_{n,p,q} dOut[n,p,q,k].
/// With ReLU fused, out = max(that, 0), applied with the bias to each tile of output after its GEMM (see
/// <see cref="ConvolutionFast.Forward"/>) instead of in an op of its own; backward first masks dOut by out &gt; 0.
/// </summary>
internal sealed class Conv2DOp(Tensor input, Tensor kernel, ConvGeometry geometry, Tensor? reluOutput) : Op
{
    public override string Name => reluOutput is null ? "Conv2D" : "Conv2D+Relu";

    public static Tensor Forward(Tensor input, Tensor kernel, Tensor? bias, ConvGeometry g, bool relu = false)
    {
        var output = Tensor.Uninitialized(new Shape(g.N, g.P, g.Q, g.K));
        ConvolutionKernels.Forward(input.Span, kernel.Data, bias is null ? default : bias.Span, g, output.Span, relu, packing: KeptPacking.For(kernel));
        GradientTape.Record(new Conv2DOp(input, kernel, g, relu ? output : null), bias is null ? [input, kernel] : [input, kernel, bias], output);
        return output;
    }

    /// <summary>
    /// Inference only: the convolution, then a per-channel y·scale + shift (a batch normalization on its moving
    /// statistics), then + <paramref name="residual"/> (a residual block's Add) when given, then ReLU when
    /// <paramref name="relu"/> is set, all in the convolution's epilogue:
    /// out = (Σ + bias)·scale + shift = Σ·scale + (bias·scale + shift). Nothing is recorded, as there is no backward.
    /// </summary>
    public static Tensor ForwardFolded(Tensor input, Tensor kernel, Tensor? bias, ConvGeometry g, float[] scale, float[] shift, Tensor? residual,
        bool relu, string name)
    {
        if (GradientTape.IsRecording) throw new InvalidOperationException($"{name} folds a batch normalization for inference; a gradient tape is recording.");
        if (scale.Length != g.K || shift.Length != g.K)
            throw new ArgumentException($"{name} needs {g.K} scales and shifts; received {scale.Length} and {shift.Length}.");
        var outputShape = new Shape(g.N, g.P, g.Q, g.K);
        if (residual is not null && residual.Size != outputShape.Size)
            throw new ArgumentException($"{name} adds a residual of the output's size {outputShape}; received {residual.Shape}.");
        var combined = new float[g.K];
        var b = bias is null ? default : bias.Span;
        for (int k = 0; k < g.K; k++) combined[k] = (b.IsEmpty ? 0f : b[k]) * scale[k] + shift[k];
        var output = Tensor.Uninitialized(outputShape);
        ConvolutionKernels.Forward(input.Span, kernel.Data, combined, g, output.Span, relu, scale, residual is null ? default : residual.Span, KeptPacking.For(kernel));
        if (OpTrace.Level > 0) OpTrace.Forward(name, [input, kernel, .. bias is null ? Array.Empty<Tensor>() : [bias], .. residual is null ? Array.Empty<Tensor>() : [residual]], output);
        return output;
    }

    public override Tensor?[] Backward(Tensor gradOutput, bool[] needs)
    {
        var grads = new Tensor?[needs.Length];
        bool biasGradient = needs.Length > 2 && needs[2];
        if (biasGradient) grads[2] = Tensor.Zeros(geometry.K);
        Tensor? masked = null;
        if (reluOutput is not null)
        {
            // The ReLU mask and the bias gradient in one pass over the output gradient.
            masked = Tensor.Uninitialized(gradOutput.Shape);
            Epilogue.ReluBackward(reluOutput.Span, gradOutput.Span, masked.Span, geometry.K, biasGradient ? grads[2]!.Span : default);
            gradOutput = masked;
        }
        else if (biasGradient) ConvolutionKernels.BackwardBias(gradOutput.Span, geometry.K, grads[2]!.Span);
        if (needs[0])
        {
            grads[0] = Tensor.Uninitialized(input.Shape);
            ConvolutionKernels.BackwardInput(gradOutput.Span, kernel.Data, geometry, grads[0]!.Span);
        }
        if (needs[1])
        {
            grads[1] = Tensor.Zeros(kernel.Shape);
            ConvolutionKernels.BackwardKernel(gradOutput.Span, input.Span, geometry, grads[1]!.Span);
        }
        masked?.Dispose();
        return grads;
    }
}

/// <summary>
/// 3-D convolution (cross-correlation) channels-last, the plain scalar definition (N batch, D/H/W depth/height/width,
/// C in channels, K filters, T/R/S kernel d/h/w, A/P/Q output d/h/w, G groups):
/// out[n,a,p,q,k] = bias[k] + Σ_{t,r,s,c} in[n, a·sd − front + t·dd, p·sh − top + r·dh, q·sw − left + s·dw, g·C/G + c] · w[t,r,s,c,k]
/// with g = k / (K/G); cells outside the input count as 0. dIn and dW accumulate the same products; dBias[k] = Σ dOut[…,k].
/// </summary>
internal sealed class Conv3DOp(Tensor input, Tensor kernel, bool hasBias, int[] strides, int[] dilations, int[] pads, int groups) : Op
{
    public override string Name => "Conv3D";

    public static Tensor Forward(
        Tensor input,           // [N, D, H, W, C]
        Tensor kernel,          // [T, R, S, C/G, K]
        Tensor? bias,           // [K]
        int[] strides,          // (sd, sh, sw); dilations alike
        int[] dilations,
        int[] pads,             // ONNX order: front, top, left, back, bottom, right
        int groups)             // → [N, A, P, Q, K]
    {
        var (x, w) = (input.Shape, kernel.Shape);
        if (x.Rank != 5 || w.Rank != 5 || strides.Length != 3 || dilations.Length != 3 || pads.Length != 6 || groups <= 0
            || x[4] != w[3] * groups || w[4] % groups != 0 || (bias is not null && bias.Size != w[4]))
            throw new ArgumentException($"Conv3D needs input (N, D, H, W, C), kernel (T, R, S, C/groups, K) with K divisible by groups, bias (K,), three strides and dilations and six pads; received input {x}, kernel {w}, bias {bias?.Shape.ToString() ?? "none"}, groups {groups}.");
        var output = Tensor.Zeros(OutputShape(x, w, strides, dilations, pads));
        var op = new Conv3DOp(input, kernel, bias is not null, strides, dilations, pads, groups);
        var (xv, wv, bv, yv) = (input.Data, kernel.Data, bias?.Data, output.Data);
        op.Visit(output.Shape, (at, i, j, k) => yv[at] += xv[i] * wv[j]);
        if (bv is not null)
            for (int at = 0; at < yv.Length; at++) yv[at] += bv[at % w[4]];
        GradientTape.Record(op, bias is null ? [input, kernel] : [input, kernel, bias], output);
        return output;
    }

    private static Shape OutputShape(Shape x, Shape w, int[] strides, int[] dilations, int[] pads)
    {
        var dims = new int[5];
        dims[0] = x[0];
        for (int i = 0; i < 3; i++)
            dims[i + 1] = ConvArithmetic.OutputLength(x[i + 1], w[i], strides[i], dilations[i], pads[i], pads[i + 3]);
        dims[4] = w[4];
        if (dims[1..4].Any(d => d <= 0))
            throw new ArgumentException($"Conv3D kernel {w} does not fit input {x} (pads ({string.Join(", ", pads)}), dilations ({string.Join(", ", dilations)})).");
        return new Shape(dims);
    }

    /// <summary>Calls <paramref name="product"/>(output index, input index, kernel index, filter) for every term of every sum.</summary>
    private void Visit(Shape outShape, Action<int, int, int, int> product)
    {
        var (x, w) = (input.Shape, kernel.Shape);
        int channelsPerGroup = w[3], filters = w[4], filtersPerGroup = filters / groups;
        for (int n = 0; n < outShape[0]; n++)
        for (int a = 0; a < outShape[1]; a++)
        for (int p = 0; p < outShape[2]; p++)
        for (int q = 0; q < outShape[3]; q++)
        for (int k = 0; k < filters; k++)
        {
            int at = (((n * outShape[1] + a) * outShape[2] + p) * outShape[3] + q) * filters + k;
            int firstChannel = k / filtersPerGroup * channelsPerGroup;
            for (int t = 0; t < w[0]; t++)
            {
                int d = a * strides[0] - pads[0] + t * dilations[0];
                if ((uint)d >= (uint)x[1]) continue;
                for (int r = 0; r < w[1]; r++)
                {
                    int h = p * strides[1] - pads[1] + r * dilations[1];
                    if ((uint)h >= (uint)x[2]) continue;
                    for (int s = 0; s < w[2]; s++)
                    {
                        int col = q * strides[2] - pads[2] + s * dilations[2];
                        if ((uint)col >= (uint)x[3]) continue;
                        int i0 = (((n * x[1] + d) * x[2] + h) * x[3] + col) * x[4] + firstChannel;
                        int j0 = ((t * w[1] + r) * w[2] + s) * channelsPerGroup * filters + k;
                        for (int c = 0; c < channelsPerGroup; c++) product(at, i0 + c, j0 + c * filters, k);
                    }
                }
            }
        }
    }

    public override Tensor?[] Backward(Tensor gradOutput, bool[] needs)
    {
        var dx = Tensor.Zeros(input.Shape);
        var dw = Tensor.Zeros(kernel.Shape);
        var (g, xv, wv, dxv, dwv) = (gradOutput.Data, input.Data, kernel.Data, dx.Data, dw.Data);
        Visit(gradOutput.Shape, (at, i, j, k) =>
        {
            dxv[i] += g[at] * wv[j];
            dwv[j] += g[at] * xv[i];
        });
        if (!hasBias) return [dx, dw];
        var db = Tensor.Zeros(kernel.Shape[4]);
        for (int at = 0; at < g.Length; at++) db.Data[at % db.Size] += g[at];
        return [dx, dw, db];
    }
}
