using System.Text.Json.Nodes;
using ConvKit.IO;

namespace ConvKit.Cli.Tests;

public class TrainSettingsTests
{
    private static readonly TrainSettings Sound = new("tiny", "adam", 0.001f, 2, 50, 7, 100, 0.2, false, 12);

    private static TrainSettings Read(string json) =>
        TrainSettings.FromMetadata(new Dictionary<string, string> { [MetadataKeys.Train] = json }, "/runs/a/model.safetensors");

    /// <summary>The sound settings' JSON with <paramref name="key"/> set to <paramref name="value"/> (removed when null).</summary>
    private static string With(string key, JsonNode? value, bool remove = false)
    {
        var json = JsonNode.Parse(Sound.ToJson())!.AsObject();
        if (remove) json.Remove(key);
        else json[key] = value;
        return json.ToJsonString();
    }

    [Fact]
    public void Stored_settings_read_back_equal()
    {
        Assert.Equal(Sound, Read(Sound.ToJson()));
        var constant = Sound with { Limit = null, DecaySteps = null };
        Assert.Equal(constant, Read(constant.ToJson()));
    }

    public static TheoryData<string, string> Malformed => new()
    {
        { Sound.ToJson()[..40], "bad 'convkit.train' entry" },                                    // truncated
        { "null", "null settings" },
        { "[1, 2, 3]", "bad 'convkit.train' entry" },
        { With("batch_size", "fifty"), "bad 'convkit.train' entry" },
        { With("model", 5), "bad 'convkit.train' entry" },
        { With("model", new JsonArray(Enumerable.Range(0, 100_000).Select(i => (JsonNode)i).ToArray())), "bad 'convkit.train' entry" },
        { With("batch_size", 1e12), "bad 'convkit.train' entry" },
        { With("optimizer", null, remove: true), "optimizer" },
        { With("model", null), "model" },
        { With("model", ""), "model is empty" },
        { With("learning_rate", -0.5), "learning_rate is -0.5" },
        { With("epochs", 0), "epochs is 0" },
        { With("batch_size", 0), "batch_size is 0" },
        { With("limit", -3), "limit is -3" },
        { With("validation_split", 1.5), "validation_split is 1.5" },
        { With("decay_steps", -1), "decay_steps is -1" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_settings_name_the_checkpoint_and_the_problem(string json, string problem)
    {
        var error = Assert.Throws<ConvKitFormatException>(() => Read(json));
        Assert.Equal("/runs/a/model.safetensors", error.FilePath);
        Assert.Contains(problem, error.Message);
    }
}
