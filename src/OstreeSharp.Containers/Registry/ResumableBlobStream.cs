using OstreeSharp.Containers.Oci;
using OstreeSharp.Internal;

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
        var tmp = System.Buffers.ArrayPool<byte>.Shared.Rent(buffer.Length);
        try
        {
            int n = Read(tmp, 0, buffer.Length);
            tmp.AsSpan(0, n).CopyTo(buffer);
            return n;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(tmp);
        }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            try
            {
                _inner ??= await _client.OpenBlobAtAsync(_repository, _blob, _position, _what, cancellationToken).ConfigureAwait(false);
                int n = await ReadWithTimeoutAsync(_inner, buffer, cancellationToken).ConfigureAwait(false);
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

    // A read that receives nothing within the client's read timeout fails as a dropped connection would: the download
    // resumes from here, within the retry budget.
    private async ValueTask<int> ReadWithTimeoutAsync(Stream inner, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var timeout = _client.Options.ReadTimeout;
        if (timeout <= TimeSpan.Zero)
        {
            return await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            return await inner.ReadAsync(buffer, cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new IOException($"no data for {timeout.TotalSeconds:0.###} s (--read-timeout)", e);
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
