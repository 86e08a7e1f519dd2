using ConvKit.Autograd;
using ConvKit.Kernels;
using ConvKit.Tensors;

namespace ConvKit.Operations;

/// <summary>
/// 2-D convolution as layers compute it (cross-correlation, no flip), channels-last.
/// out[n,p,q,k] = bias[k] + Σ_{r,s,c} in[n, p·sh − pt + r·dh, q·sw − pl + s·dw, c] · w[r,s,c,k].
/// dIn and dW are the two transposed correlations; dBias[k] = Σ_{n,p,q} dOut[n,p,q,k].
/// </summary>
internal sealed class Conv2DOp(Tensor input, Tensor kernel, ConvGeometry geometry) : Op
{
    public override string Name => "Conv2D";

    public static Tensor Forward(Tensor input, Tensor kernel, Tensor? bias, ConvGeometry g)
    {
        var output = Tensor.Uninitialized(new Shape(g.N, g.P, g.Q, g.K));
        ConvolutionKernels.Forward(input.Span, kernel.Span, bias is null ? default : bias.Span, g, output.Span);
        GradientTape.Record(new Conv2DOp(input, kernel, g), bias is null ? [input, kernel] : [input, kernel, bias], output);
        return output;
    }

    public override Tensor?[] Backward(Tensor gradOutput, bool[] needs)
    {
        var grads = new Tensor?[needs.Length];
        if (needs[0])
        {
            grads[0] = Tensor.Uninitialized(input.Shape);
            ConvolutionKernels.BackwardInput(gradOutput.Span, kernel.Span, geometry, grads[0]!.Span);
        }
        if (needs[1])
        {
            grads[1] = Tensor.Zeros(kernel.Shape);
            ConvolutionKernels.BackwardKernel(gradOutput.Span, input.Span, geometry, grads[1]!.Span);
        }
        if (needs.Length > 2 && needs[2])
        {
            grads[2] = Tensor.Zeros(geometry.K);
            ConvolutionKernels.BackwardBias(gradOutput.Span, geometry.K, grads[2]!.Span);
        }
        return grads;
    }
}
