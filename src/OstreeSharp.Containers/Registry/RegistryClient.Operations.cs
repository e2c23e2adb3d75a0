using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.Transports;
using OstreeSharp.Internal;

namespace OstreeSharp.Containers.Registry;

public sealed partial class RegistryClient
{
    /// <summary>Fetches a manifest by tag or digest (content negotiation for OCI and Docker types); a digest reference is verified.</summary>
    public async Task<ManifestBlob> GetManifestAsync(string repository, string reference, string what, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reference);
        await PingAsync(cancellationToken).ConfigureAwait(false);
        var url = Url($"v2/{repository}/manifests/{reference}");
        using var resp = await SendAsync(HttpMethod.Get, url, Scope(repository, "pull"), AcceptManifests, replayable: true, cancellationToken).ConfigureAwait(false);
        if (!resp.IsSuccessStatusCode)
        {
            throw await ErrorAsync(resp, "GET", url, what).ConfigureAwait(false);
        }

        var max = _options.MaxManifestSize;
        if (resp.Content.Headers.ContentLength is long len && len > max)
        {
            throw new ManifestException($"Manifest of {what} is {len} bytes, over the limit of {max} ({url})");
        }

        var bytes = await ReadBoundedAsync(resp, max, what, url, cancellationToken).ConfigureAwait(false);
        var m = new ManifestBlob(bytes, resp.Content.Headers.ContentType?.MediaType, what);
        if (Digest.TryParse(reference, out var expected))
        {
            m.Verify(expected);
        }

        return m;
    }

    /// <summary>Fetches a manifest by tag or digest as <see cref="GetManifestAsync"/>; null when the registry has none.</summary>
    public async Task<ManifestBlob?> TryGetManifestAsync(string repository, string reference, string what, CancellationToken cancellationToken)
    {
        try
        {
            return await GetManifestAsync(repository, reference, what, cancellationToken).ConfigureAwait(false);
        }
        catch (RegistryException e) when (e.StatusCode == 404)
        {
            return null;
        }
    }

    /// <summary>
    /// The referrers of <paramref name="subject"/> through the OCI 1.1 referrers API (an image index); null when the
    /// registry does not offer the API (clients then read the <c>sha256-HEX</c> tag instead).
    /// </summary>
    public async Task<ManifestBlob?> GetReferrersAsync(string repository, Digest subject, string what, CancellationToken cancellationToken)
    {
        await PingAsync(cancellationToken).ConfigureAwait(false);
        var url = Url($"v2/{repository}/referrers/{subject}");
        using var resp = await SendAsync(HttpMethod.Get, url, Scope(repository, "pull"), req => req.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(MediaTypes.OciIndex)), replayable: true, cancellationToken).ConfigureAwait(false);
        if (resp.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.BadRequest or HttpStatusCode.MethodNotAllowed or HttpStatusCode.NotImplemented
            || (resp.IsSuccessStatusCode && resp.Content.Headers.ContentType?.MediaType != MediaTypes.OciIndex))
        {
            return null;
        }

        if (!resp.IsSuccessStatusCode)
        {
            throw await ErrorAsync(resp, "GET", url, what).ConfigureAwait(false);
        }

        return new ManifestBlob(await ReadBoundedAsync(resp, _options.MaxManifestSize, what, url, cancellationToken).ConfigureAwait(false), MediaTypes.OciIndex, what);
    }

    private static void AcceptManifests(HttpRequestMessage req)
    {
        foreach (var t in MediaTypes.AcceptedManifests)
        {
            req.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(t));
        }
    }

    // The whole body, refused past max bytes (a manifest by default; tooLarge says what else it is).
    internal static async Task<byte[]> ReadBoundedAsync(HttpResponseMessage resp, int max, string what, Uri url, CancellationToken ct, Func<Exception>? tooLarge = null)
    {
        await using var s = await resp.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        using var ms = new MemoryStream();
        var buf = new byte[65536];
        int n;
        while ((n = await s.ReadAsync(buf, ct).ConfigureAwait(false)) > 0)
        {
            if (ms.Length + n > max)
            {
                throw tooLarge?.Invoke() ?? new ManifestException($"Manifest of {what} is over the limit of {max} bytes ({url})");
            }

            ms.Write(buf, 0, n);
        }

        return ms.ToArray();
    }

    /// <summary>The digest a tag currently points at (HEAD, falling back to GET).</summary>
    public async Task<Digest> ResolveDigestAsync(string repository, string reference, string what, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reference);
        if (Digest.TryParse(reference, out var d))
        {
            return d;
        }

        await PingAsync(cancellationToken).ConfigureAwait(false);
        var url = Url($"v2/{repository}/manifests/{reference}");
        using (var resp = await SendAsync(HttpMethod.Head, url, Scope(repository, "pull"), AcceptManifests, replayable: true, cancellationToken).ConfigureAwait(false))
        {
            if (resp.StatusCode == HttpStatusCode.NotFound)
            {
                throw new RegistryException($"HEAD {url}: 404 Not Found: no manifest {reference} for {what}", 404, transient: false);
            }

            if (resp.IsSuccessStatusCode && resp.Headers.TryGetValues("Docker-Content-Digest", out var v) && Digest.TryParse(v.FirstOrDefault(), out var hd))
            {
                return hd;
            }
        }

        return (await GetManifestAsync(repository, reference, what, cancellationToken).ConfigureAwait(false)).Digest;
    }

    /// <summary>
    /// Opens a blob from <paramref name="offset"/>. From 0 the stream is verified against the descriptor;
    /// a connection dropped mid-blob is resumed with a Range request.
    /// </summary>
    public async Task<Stream> GetBlobAsync(string repository, Descriptor blob, long offset, string what, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(blob);
        var stream = new ResumableBlobStream(this, repository, blob, offset, what);
        await stream.OpenAsync(cancellationToken).ConfigureAwait(false);
        return offset == 0 ? new VerifyingStream(stream, blob.GetDigest(), blob.Size, what) : stream;
    }

    internal async Task<Stream> OpenBlobAtAsync(string repository, Descriptor blob, long offset, string what, CancellationToken ct)
    {
        await PingAsync(ct).ConfigureAwait(false);
        var url = Url($"v2/{repository}/blobs/{blob.Digest}");
        var resp = await SendAsync(HttpMethod.Get, url, Scope(repository, "pull"), offset > 0 ? r => r.Headers.Range = new RangeHeaderValue(offset, null) : null, replayable: true, ct).ConfigureAwait(false);
        if (!resp.IsSuccessStatusCode)
        {
            using (resp)
            {
                if (resp.StatusCode == HttpStatusCode.NotFound)
                {
                    throw new RegistryException(OstreeErrorCode.BlobNotFound, $"GET {url}: 404 Not Found: blob {blob.Digest} of {what} is not in the registry", 404, false);
                }

                throw await ErrorAsync(resp, "GET", url, what).ConfigureAwait(false);
            }
        }

        var s = await resp.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        if (offset > 0 && resp.StatusCode != HttpStatusCode.PartialContent)
        {
            // The server ignored Range: skip what we already have.
            var buf = new byte[65536];
            long skip = offset;
            while (skip > 0)
            {
                int n = await s.ReadAsync(buf.AsMemory(0, (int)Math.Min(buf.Length, skip)), ct).ConfigureAwait(false);
                if (n == 0)
                {
                    throw new DigestMismatchException($"Blob {blob.Digest} of {what} ended before offset {offset}");
                }

                skip -= n;
            }
        }

        return new ResponseStream(resp, s);
    }

    /// <summary>Whether the repository has the blob (HEAD).</summary>
    public async Task<bool> BlobExistsAsync(string repository, Descriptor blob, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(blob);
        await PingAsync(cancellationToken).ConfigureAwait(false);
        var url = Url($"v2/{repository}/blobs/{blob.Digest}");
        using var resp = await SendAsync(HttpMethod.Head, url, Scope(repository, "pull,push"), null, replayable: true, cancellationToken).ConfigureAwait(false);
        if (resp.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }

        if (!resp.IsSuccessStatusCode)
        {
            throw await ErrorAsync(resp, "HEAD", url, repository).ConfigureAwait(false);
        }

        return resp.Content.Headers.ContentLength is not long len || len == blob.Size;
    }

    /// <summary>Asks the registry to link a blob from another repository of the same registry; true when it did.</summary>
    public async Task<bool> TryMountBlobAsync(string repository, Descriptor blob, string fromRepository, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(blob);
        await PingAsync(cancellationToken).ConfigureAwait(false);
        var url = Url($"v2/{repository}/blobs/uploads/?mount={Uri.EscapeDataString(blob.Digest)}&from={Uri.EscapeDataString(fromRepository)}");
        var scope = Scope(repository, "pull,push") + " " + Scope(fromRepository, "pull");
        using var resp = await SendAsync(HttpMethod.Post, url, scope, r => r.Content = new ByteArrayContent([]), replayable: true, cancellationToken).ConfigureAwait(false);
        if (resp.StatusCode == HttpStatusCode.Created)
        {
            return true;
        }

        if (resp.StatusCode == HttpStatusCode.Accepted && resp.Headers.Location is { } loc)
        {
            // The registry started an ordinary upload instead; cancel it.
            try
            {
                using var del = await SendAsync(HttpMethod.Delete, new Uri(url, loc), Scope(repository, "pull,push"), null, replayable: true, cancellationToken).ConfigureAwait(false);
            }
            catch (RegistryException)
            {
            }

            return false;
        }

        if (!resp.IsSuccessStatusCode)
        {
            throw await ErrorAsync(resp, "POST", url, repository).ConfigureAwait(false);
        }

        return false;
    }

    /// <summary>Puts a manifest under a tag or its digest; checks the digest the registry reports.</summary>
    public async Task PutManifestAsync(string repository, string reference, ManifestBlob manifest, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        await PingAsync(cancellationToken).ConfigureAwait(false);
        var url = Url($"v2/{repository}/manifests/{reference}");
        using var resp = await SendAsync(
            HttpMethod.Put,
            url,
            Scope(repository, "pull,push"),
            r =>
            {
                r.Content = new ByteArrayContent(manifest.Bytes);
                r.Content.Headers.ContentType = new MediaTypeHeaderValue(manifest.MediaType);
            },
            replayable: true,
            cancellationToken).ConfigureAwait(false);
        if (!resp.IsSuccessStatusCode)
        {
            throw await ErrorAsync(resp, "PUT", url, repository).ConfigureAwait(false);
        }

        if (resp.Headers.TryGetValues("Docker-Content-Digest", out var v) && Digest.TryParse(v.FirstOrDefault(), out var got) && got.Algorithm == "sha256" && got != manifest.Digest)
        {
            throw new DigestMismatchException($"PUT {url}: the registry stored the manifest as {got}, we sent {manifest.Digest}");
        }
    }

    /// <summary>All tags of a repository (following Link pagination).</summary>
    public async Task<IReadOnlyList<string>> ListTagsAsync(string repository, CancellationToken cancellationToken)
    {
        await PingAsync(cancellationToken).ConfigureAwait(false);
        var tags = new List<string>();
        Uri? url = Url($"v2/{repository}/tags/list");
        for (int page = 0; url is not null && page < 10000; page++)
        {
            using var resp = await SendAsync(HttpMethod.Get, url, Scope(repository, "pull"), null, replayable: true, cancellationToken).ConfigureAwait(false);
            if (!resp.IsSuccessStatusCode)
            {
                throw await ErrorAsync(resp, "GET", url, repository).ConfigureAwait(false);
            }

            var bytes = await ReadBoundedAsync(resp, _options.MaxManifestSize, "tag list of " + repository, url, cancellationToken).ConfigureAwait(false);
            try
            {
                tags.AddRange(JsonSerializer.Deserialize(bytes, OciJsonContext.Default.TagList)?.Tags ?? []);
            }
            catch (JsonException e)
            {
                throw new RegistryException(OstreeErrorCode.InvalidData, $"GET {url}: malformed tag list: {e.Message}", 0, false);
            }

            url = NextLink(resp, url);
        }

        return tags;
    }

    private static Uri? NextLink(HttpResponseMessage resp, Uri current)
    {
        if (!resp.Headers.TryGetValues("Link", out var links))
        {
            return null;
        }

        foreach (var link in links)
        {
            int lt = link.IndexOf('<', StringComparison.Ordinal), gt = link.IndexOf('>', StringComparison.Ordinal);
            if (lt >= 0 && gt > lt && link.Contains("rel=\"next\"", StringComparison.Ordinal))
            {
                return new Uri(current, link[(lt + 1)..gt]);
            }
        }

        return null;
    }

    /// <summary>Deletes the manifest a tag or digest names (by its digest, as the API requires).</summary>
    public async Task<Digest> DeleteManifestAsync(string repository, string reference, string what, CancellationToken cancellationToken)
    {
        var digest = await ResolveDigestAsync(repository, reference, what, cancellationToken).ConfigureAwait(false);
        var url = Url($"v2/{repository}/manifests/{digest}");
        using var resp = await SendAsync(HttpMethod.Delete, url, Scope(repository, "delete") + " " + Scope(repository, "pull,push"), null, replayable: true, cancellationToken).ConfigureAwait(false);
        if (resp.StatusCode == HttpStatusCode.MethodNotAllowed)
        {
            throw new RegistryException(OstreeErrorCode.NotSupported, $"DELETE {url}: 405 the registry does not allow deletes", 405, false);
        }

        if (!resp.IsSuccessStatusCode)
        {
            throw await ErrorAsync(resp, "DELETE", url, what).ConfigureAwait(false);
        }

        return digest;
    }

    /// <summary>
    /// Uploads a blob: POST to start, PATCH in chunks (or one PATCH), PUT with the digest to finish (the
    /// registry checks it). A failed attempt asks the registry how far it got and resumes from there,
    /// re-opening the source at that offset; an upload the registry forgot is started again.
    /// </summary>
    public async Task PushBlobAsync(string repository, Descriptor blob, BlobOpener open, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(blob);
        ArgumentNullException.ThrowIfNull(open);
        await PingAsync(cancellationToken).ConfigureAwait(false);
        var scope = Scope(repository, "pull,push");
        Uri? location = null;
        long offset = 0;
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                if (location is null)
                {
                    location = await StartUploadAsync(repository, scope, cancellationToken).ConfigureAwait(false);
                    offset = 0;
                }

                while (offset < blob.Size)
                {
                    long chunk = _options.ChunkSize > 0 ? Math.Min(_options.ChunkSize, blob.Size - offset) : blob.Size - offset;
                    (location, offset) = await PatchAsync(location, scope, blob, open, offset, chunk, progress, cancellationToken).ConfigureAwait(false);
                }

                var putUrl = AddQuery(location, "digest", blob.Digest);
                using var resp = await SendAsync(HttpMethod.Put, putUrl, scope, r => r.Content = new ByteArrayContent([]), replayable: true, cancellationToken).ConfigureAwait(false);
                if (resp.StatusCode == HttpStatusCode.NotFound)
                {
                    throw new RegistryException(OstreeErrorCode.RegistryFailed, $"PUT {putUrl}: 404 the registry forgot the upload", 404, transient: true);
                }

                if (!resp.IsSuccessStatusCode)
                {
                    var err = await ErrorAsync(resp, "PUT", putUrl, repository).ConfigureAwait(false);
                    if (err.StatusCode == 400 && err.Errors.Any(e => e.Code == "DIGEST_INVALID"))
                    {
                        throw new DigestMismatchException($"Registry refused blob {blob.Digest} for {repository}: its bytes do not have that digest ({err.Message})");
                    }

                    throw err;
                }

                return;
            }
            catch (Exception e) when (attempt < _options.RetryTimes && RegistryHttp.IsTransient(e, cancellationToken))
            {
                await Task.Delay(RegistryHttp.Backoff(_options, attempt), cancellationToken).ConfigureAwait(false);
                (location, offset) = location is null ? (null, 0) : await UploadStatusAsync(location, scope, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpRequestException or IOException)
            {
                throw FindContainerException(e) ?? new RegistryException($"Uploading blob {blob.Digest} to {Host}/{repository}: {e.Message}", e, transient: true);
            }
        }
    }

    private async Task<Uri> StartUploadAsync(string repository, string scope, CancellationToken ct)
    {
        var url = Url($"v2/{repository}/blobs/uploads/");
        using var resp = await SendAsync(HttpMethod.Post, url, scope, r => r.Content = new ByteArrayContent([]), replayable: true, ct).ConfigureAwait(false);
        if (resp.StatusCode != HttpStatusCode.Accepted || resp.Headers.Location is null)
        {
            throw resp.IsSuccessStatusCode
                ? new RegistryException($"POST {url}: expected 202 with a Location, got {(int)resp.StatusCode}", (int)resp.StatusCode, transient: false)
                : await ErrorAsync(resp, "POST", url, repository).ConfigureAwait(false);
        }

        return new Uri(url, resp.Headers.Location);
    }

    private async Task<(Uri Location, long Offset)> PatchAsync(Uri location, string scope, Descriptor blob, BlobOpener open, long offset, long length, IProgress<long>? progress, CancellationToken ct)
    {
        await using var source = await open(offset, ct).ConfigureAwait(false);
        var body = new WindowStream(source, length, offset, progress);
        using var resp = await SendAsync(
            HttpMethod.Patch,
            location,
            scope,
            r =>
            {
                r.Content = new StreamContent(body, 1 << 20);
                r.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                r.Content.Headers.ContentLength = length;
                r.Content.Headers.TryAddWithoutValidation("Content-Range", $"{offset}-{offset + length - 1}");
            },
            replayable: false,
            ct).ConfigureAwait(false);
        if (resp.StatusCode != HttpStatusCode.Accepted)
        {
            var err = await ErrorAsync(resp, "PATCH", location, blob.Digest).ConfigureAwait(false);
            throw resp.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.RequestedRangeNotSatisfiable
                ? new RegistryException(OstreeErrorCode.RegistryFailed, err.Message, err.StatusCode, transient: true)
                : err;
        }

        if (body.Position != length)
        {
            throw new DigestMismatchException($"Blob {blob.Digest}: the source ended after {offset + body.Position} of {blob.Size} bytes");
        }

        var next = resp.Headers.Location is { } l ? new Uri(location, l) : location;
        return (next, offset + length);
    }

    private async Task<(Uri? Location, long Offset)> UploadStatusAsync(Uri location, string scope, CancellationToken ct)
    {
        try
        {
            using var resp = await SendAsync(HttpMethod.Get, location, scope, null, replayable: true, ct).ConfigureAwait(false);
            if (resp.StatusCode != HttpStatusCode.NoContent || !resp.Headers.TryGetValues("Range", out var ranges))
            {
                return (null, 0);
            }

            var range = ranges.First();
            int dash = range.IndexOf('-', StringComparison.Ordinal);
            if (dash < 0 || !long.TryParse(range.AsSpan(dash + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var end))
            {
                return (null, 0);
            }

            var next = resp.Headers.Location is { } l ? new Uri(location, l) : location;
            return (next, end + 1);
        }
        catch (RegistryException)
        {
            return (null, 0);
        }
    }

    private static Uri AddQuery(Uri url, string key, string value)
    {
        var s = url.ToString();
        return new Uri(s + (s.Contains('?', StringComparison.Ordinal) ? "&" : "?") + key + "=" + Uri.EscapeDataString(value));
    }

    /// <summary>A response body that disposes its response with it.</summary>
    private sealed class ResponseStream(HttpResponseMessage response, Stream inner) : ReadOnlyStream
    {

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override int Read(Span<byte> buffer) => inner.Read(buffer);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.ReadAsync(buffer, offset, count, cancellationToken);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
                response.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    /// <summary>The next <c>length</c> bytes of a source, reporting progress; does not dispose the source.</summary>
    private sealed class WindowStream(Stream source, long length, long baseOffset, IProgress<long>? progress) : ReadOnlyStream
    {
        private long _pos;

        public override long Length => length;

        public override long Position { get => _pos; set => throw new NotSupportedException(); }

        public override int Read(Span<byte> buffer)
        {
            int n = source.Read(buffer[..(int)Math.Min(buffer.Length, length - _pos)]);
            return Advance(n);
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int n = await source.ReadAsync(buffer[..(int)Math.Min(buffer.Length, length - _pos)], cancellationToken).ConfigureAwait(false);
            return Advance(n);
        }

        private int Advance(int n)
        {
            _pos += n;
            if (n > 0)
            {
                progress?.Report(baseOffset + _pos);
            }

            return n;
        }

    }
}
