using System.Text;
using OstreeSharp.Composefs;
using OstreeSharp.Containers;
using OstreeSharp.Containers.Registry;
using OstreeSharp.GVariant;
using OstreeSharp.Objects;
using OstreeSharp.Repository;
using OstreeSharp.Signing;
using OstreeSharp.Tar;
using OstreeSharp.Transfer;

namespace OstreeSharp.Tests;

/// <summary>Every failure carries a stable code: each exception family has its own, and callers branch on it, not on words.</summary>
public sealed class ErrorCodeTests
{
    [Fact]
    public void Codes_are_unique_in_their_area_and_print_as_OSTREE_and_four_digits()
    {
        var all = Enum.GetValues<OstreeErrorCode>();
        Assert.Equal(all.Length, all.Select(c => (int)c).Distinct().Count());
        Assert.All(all, c => Assert.Contains((int)c / 1000, new[] { 1, 2, 3, 4, 5, 6, 9 }));
        Assert.Equal("OSTREE1010", OstreeErrorCodes.Format(OstreeErrorCode.RefNotFound));
        Assert.Equal("OSTREE9999", OstreeErrorCodes.Format(OstreeErrorCode.Internal));
    }

    public static TheoryData<Exception, OstreeErrorCode> Families => new()
    {
        { new OstreeException("x"), OstreeErrorCode.Failed },
        { new OstreeFormatException("x"), OstreeErrorCode.InvalidData },
        { new GVariantFormatException("x", 3), OstreeErrorCode.InvalidGVariant },
        { new TarFormatException("x"), OstreeErrorCode.InvalidArchive },
        { new ObjectNotFoundException("x"), OstreeErrorCode.ObjectNotFound },
        { new ObjectCorruptedException("a.commit", "x"), OstreeErrorCode.ObjectCorrupted },
        { ObjectCorruptedException.ChecksumMismatch("a", "file", "b"), OstreeErrorCode.ObjectCorrupted },
        { new RepoLockedException("x"), OstreeErrorCode.RepositoryLocked },
        { new RemoteFetchException("http://h/x", "404"), OstreeErrorCode.FetchFailed },
        { new RemoteFetchException("http://h/x", "malformed", new GVariantFormatException("deep", 8)), OstreeErrorCode.InvalidGVariant },
        { new ComposefsException("x"), OstreeErrorCode.ComposefsFailed },
        { new ComposefsLimitException("x", "/p"), OstreeErrorCode.ComposefsLimit },
        { new ComposefsDumpfileException(3, "x"), OstreeErrorCode.ComposefsInvalidDumpfile },
        { new SignatureException("x"), OstreeErrorCode.SignatureInvalid },
        { new SignatureException("x", SignatureFailure.NoSignature), OstreeErrorCode.SignatureMissing },
        { new SignatureException("x", SignatureFailure.UnknownKey), OstreeErrorCode.SignatureUntrusted },
        { new SignatureException("x", SignatureFailure.BadSignature), OstreeErrorCode.SignatureMismatch },
        { new SignatureException("x", SignatureFailure.ExpiredKey), OstreeErrorCode.SignatureKeyExpired },
        { new SignatureException("x", SignatureFailure.RevokedKey), OstreeErrorCode.SignatureKeyExpired },
        { new ContainerException("x"), OstreeErrorCode.ContainerFailed },
        { new ImageReferenceException("x"), OstreeErrorCode.ImageReferenceInvalid },
        { new DigestMismatchException("x"), OstreeErrorCode.DigestMismatch },
        { new ManifestException("x"), OstreeErrorCode.ManifestInvalid },
        { new RegistryException("x"), OstreeErrorCode.RegistryFailed },
        { new RegistryException("x", 404, transient: false), OstreeErrorCode.ImageNotFound },
        { new RegistryException("x", 429, transient: true), OstreeErrorCode.RegistryRateLimited },
        { new RegistryAuthException("x"), OstreeErrorCode.RegistryUnauthorized },
        { new ArgumentException("x"), OstreeErrorCode.InvalidArgument },
        { new FormatException("x"), OstreeErrorCode.InvalidArgument },
        { new FileNotFoundException("x"), OstreeErrorCode.IOFailed },
        { new UnauthorizedAccessException("x"), OstreeErrorCode.PermissionDenied },
        { new OperationCanceledException(), OstreeErrorCode.Cancelled },
        { new NotSupportedException(), OstreeErrorCode.NotSupported },
        { new AggregateException(new FileNotFoundException("x")), OstreeErrorCode.IOFailed },
        { new InvalidOperationException("a bug"), OstreeErrorCode.Internal },
    };

    [Theory]
    [MemberData(nameof(Families))]
    public void Each_family_has_its_code(Exception e, OstreeErrorCode code) => Assert.Equal(code, OstreeErrorCodes.Of(e));

    [Fact]
    public void A_wrapper_keeps_the_code_of_what_failed_or_names_its_own_step()
    {
        Assert.Equal(OstreeErrorCode.RefNotFound, OstreeErrorCodes.Of(new ObjectNotFoundException(OstreeErrorCode.RefNotFound, "x"), OstreeErrorCode.Failed));
        Assert.Equal(OstreeErrorCode.ComposefsFailed, OstreeErrorCodes.Of(new InvalidOperationException("x"), OstreeErrorCode.ComposefsFailed));
    }

    // Malformed data is a typed error, never an InvalidOperationException the CLI would show as a bug.
    [Fact]
    public void A_gvariant_of_the_wrong_type_is_malformed_data()
    {
        var v = GVariantValue.FromUInt32(7);
        Assert.Equal(OstreeErrorCode.InvalidGVariant, Assert.Throws<GVariantFormatException>(() => v.GetString()).ErrorCode);
        Assert.Equal(OstreeErrorCode.InvalidGVariant, Assert.Throws<GVariantFormatException>(() => v.GetBytes()).ErrorCode);
    }

    [Fact]
    public void Library_failures_carry_their_kind()
    {
        var dir = Directory.CreateTempSubdirectory("ostree-sharp-codes-").FullName;
        try
        {
            Assert.Equal(OstreeErrorCode.RepositoryNotFound, Assert.ThrowsAny<OstreeException>(() => (object)OstreeRepo.Open(Path.Combine(dir, "nothing"))).ErrorCode);
            var repo = OstreeRepo.Create(Path.Combine(dir, "repo"), RepoMode.Archive);
            Assert.Equal(OstreeErrorCode.RefNotFound, Assert.ThrowsAny<OstreeException>(() => (object?)repo.ResolveRev("nosuch")).ErrorCode);
            Assert.Equal(OstreeErrorCode.RefInvalid, Assert.ThrowsAny<OstreeException>(() => (object?)repo.ResolveRev("bad//ref")).ErrorCode);
            Assert.Equal(OstreeErrorCode.RemoteNotFound, Assert.ThrowsAny<OstreeException>(() => (object)repo.RequireRemote("nosuch")).ErrorCode);
            Assert.Equal(OstreeErrorCode.ObjectNotFound, Assert.ThrowsAny<OstreeException>(() => (object)repo.LoadCommit(Checksum.Parse(new string('0', 64)))).ErrorCode);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_registry_error_body_is_parsed_into_its_list_and_never_trusted_further()
    {
        var list = RegistryClient.ParseErrors("""{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"v1"}},{"code":"DENIED"}]}"""u8);
        Assert.Equal([new RegistryError("MANIFEST_UNKNOWN", "manifest unknown", """{"Tag":"v1"}"""), new RegistryError("DENIED", string.Empty, null)], list);
        Assert.Equal(OstreeErrorCode.ImageNotFound, new RegistryException("x", 404, list, transient: false).ErrorCode);
        Assert.Equal(OstreeErrorCode.RegistryUnauthorized, new RegistryException("x", 400, [new RegistryError("DENIED", string.Empty, null)], transient: false).ErrorCode);
        Assert.Equal(OstreeErrorCode.BlobNotFound, new RegistryException("x", 404, [new RegistryError("BLOB_UNKNOWN", string.Empty, null)], transient: false).ErrorCode);
        Assert.Equal(OstreeErrorCode.RegistryFailed, new RegistryException("x", 500, [new RegistryError("SOMETHING_NEW", string.Empty, null)], transient: true).ErrorCode);

        // Not the spec's shape: nothing, never an exception.
        Assert.Empty(RegistryClient.ParseErrors([]));
        Assert.Empty(RegistryClient.ParseErrors("<html>"u8));
        Assert.Empty(RegistryClient.ParseErrors("""{"errors":{"code":"DENIED"}}"""u8));
        Assert.Empty(RegistryClient.ParseErrors("""[1,2]"""u8));
        Assert.Empty(RegistryClient.ParseErrors("""{"errors":[{"code":7},{"message":"no code"},"text"]}"""u8));
        Assert.Empty(RegistryClient.ParseErrors(Encoding.UTF8.GetBytes(new string('[', 10_000))));
        Assert.Empty(RegistryClient.ParseErrors([(byte)'{', (byte)'"', 0xff, 0xfe, (byte)'"', (byte)':', (byte)'1', (byte)'}']));
        var many = RegistryClient.ParseErrors(Encoding.UTF8.GetBytes("{\"errors\":[" + string.Join(',', Enumerable.Repeat("{\"code\":\"X\",\"message\":\"a\\nb\"}", 100)) + "]}"));
        Assert.Equal(16, many.Count);
        Assert.All(many, e => Assert.Equal("a b", e.Message));
    }
}
