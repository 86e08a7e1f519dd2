namespace ConvKit.Tests.Examples;

public class SeedWalkthroughTests
{
    [Fact]
    public void PrintsTheKerasFiguresLineForLine()
    {
        var output = new StringWriter();
        SeedWalkthrough.Walkthrough.Run(output);
        Assert.Equal(
            """
            [2 3] * [1 1] = [2 5 3]
            input (1, 1920, 1080, 3) -> Flatten -> (1, 6220800)
            Conv2D(filters=1, kernel_size=(5,5), use_bias=False): weights (5, 5, 3, 1), params 75, output (1, 1916, 1076, 1), flattened (1, 2061616)
            Conv2D(filters=16, kernel_size=(5,5), use_bias=False): weights (5, 5, 3, 16), params 1200, output (1, 1916, 1076, 16), flattened (1, 32985856)
            MaxPool2D(pool_size=(2,2), strides=(2,2)) on that: (1, 958, 538, 16)

            """.ReplaceLineEndings(), output.ToString().ReplaceLineEndings());
    }
}
