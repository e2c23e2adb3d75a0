using OstreeSharp.Containers.Oci;

namespace OstreeSharp.Containers.Registry;

/// <summary>
/// A blob download that survives dropped connections: when a read fails it asks again from the
/// current offset with a Range request, up to the client's retry budget.
/// </summary>
internal sealed class ResumableBlobStream : ReadOnlyStream
{
    private readonly RegistryClient _client;
    private readonly string _repository;
    private readonly Descriptor _blob;
    private readonly string _what;
    private Stream? _inner;
    private long _position;
    private int _failures;

    public ResumableBlobStream(RegistryClient client, string repository, Descriptor blob, long offset, string what)
    {
        _client = client;
        _repository = repository;
        _blob = blob;
        _position = offset;
        _what = what;
    }

    public async Task OpenAsync(CancellationToken ct)
    {
        _inner = await _client.OpenBlobAtAsync(_repository, _blob, _position, _what, ct).ConfigureAwait(false);
    }

    public override long Length => _blob.Size;

    public override long Position { get => _position; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override int Read(Span<byte> buffer)
    {
        var tmp = new byte[buffer.Length];
        int n = Read(tmp, 0, tmp.Length);
        tmp.AsSpan(0, n).CopyTo(buffer);
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            try
            {
                _inner ??= await _client.OpenBlobAtAsync(_repository, _blob, _position, _what, cancellationToken).ConfigureAwait(false);
                int n = await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                _position += n;
                return n;
            }
            catch (Exception e) when (_failures < _client.Options.RetryTimes && RegistryHttp.IsTransient(e, cancellationToken))
            {
                if (_inner is not null)
                {
                    await _inner.DisposeAsync().ConfigureAwait(false);
                    _inner = null;
                }

                await Task.Delay(RegistryHttp.Backoff(_client.Options, _failures++), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or HttpRequestException)
            {
                throw new RegistryException($"Downloading blob {_blob.Digest} of {_what} failed after {_position} bytes: {e.Message}", e, transient: true);
            }
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner?.Dispose();
        }

        base.Dispose(disposing);
    }
}
