using System.Net;
using System.Net.Sockets;

namespace OstreeSharp.Interop.Tests;

/// <summary>A server on 127.0.0.1 that accepts connections and never reads or answers; all closed on dispose.</summary>
internal sealed class SilentServer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly List<TcpClient> _held = [];
    private readonly Task _accepting;

    public SilentServer()
    {
        _listener.Start();
        _accepting = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    var c = await _listener.AcceptTcpClientAsync();
                    lock (_held)
                    {
                        _held.Add(c);
                    }
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        });
    }

    /// <summary>The URL of a repository on it.</summary>
    public string Url => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/repo";

    /// <summary>The connections accepted so far.</summary>
    public int Accepted
    {
        get
        {
            lock (_held)
            {
                return _held.Count;
            }
        }
    }

    public void Dispose()
    {
        _listener.Stop();
        lock (_held)
        {
            _held.ForEach(c => c.Dispose());
        }

        _accepting.Wait(TimeSpan.FromSeconds(10));
    }
}
