using System.Text.RegularExpressions;

namespace ConvKit.Layers;

/// <summary>
/// Keras's automatic names: the class name in snake case (<c>Conv2D</c> → <c>conv2d</c>,
/// <c>MaxPooling2D</c> → <c>max_pooling2d</c>), then <c>_1</c>, <c>_2</c>, … for later ones.
/// <see cref="ClearSession"/> starts the counts again, as <c>keras.backend.clear_session()</c> does.
/// </summary>
public static partial class Names
{
    private static readonly Dictionary<string, int> Counts = [];
    private static readonly Lock Gate = new();

    /// <summary>The next free name for <paramref name="prefix"/>: <c>conv2d</c>, then <c>conv2d_1</c>, …</summary>
    public static string Unique(string prefix)
    {
        lock (Gate)
        {
            Counts.TryGetValue(prefix, out int count);
            Counts[prefix] = count + 1;
            return count == 0 ? prefix : $"{prefix}_{count}";
        }
    }

    /// <summary>Forgets every name given so far.</summary>
    public static void ClearSession()
    {
        lock (Gate) Counts.Clear();
    }

    /// <summary>Keras's <c>to_snake_case</c>.</summary>
    public static string ToSnakeCase(string name)
    {
        string s = FirstPass().Replace(name, "$1_$2");
        return SecondPass().Replace(s, "$1_$2").ToLowerInvariant();
    }

    [GeneratedRegex("(.)([A-Z][a-z]+)")]
    private static partial Regex FirstPass();

    [GeneratedRegex("([a-z])([A-Z])")]
    private static partial Regex SecondPass();
}
