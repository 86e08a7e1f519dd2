namespace ConvKit.Bench.Peers;

/// <summary>Native handles owned by a contender, released together.</summary>
internal sealed class NativeResources : IDisposable
{
    private readonly List<Action> releases = [];

    public T Add<T>(T item) where T : IDisposable
    {
        releases.Add(item.Dispose);
        return item;
    }

    public void Add(Action release) => releases.Add(release);

    public void Dispose()
    {
        for (int i = releases.Count - 1; i >= 0; i--) releases[i]();
        releases.Clear();
    }
}
