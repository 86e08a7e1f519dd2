namespace ConvKit.Bench.Peers;

/// <summary>A peer cannot run here (not loaded, or the case is not implemented for it); the message is printed as the reason.</summary>
internal sealed class PeerUnavailableException(string message) : Exception(message);
