using System.Text;
using OstreeSharp.Containers;
using OstreeSharp.Containers.Registry;

namespace OstreeSharp.Tests.Containers;

public sealed class CredentialTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ostree-sharp-auth-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Auth(string user, string pass) => Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + pass));

    private string Write(string rel, string json)
    {
        var p = Path.Combine(_dir, rel);
        Directory.CreateDirectory(Path.GetDirectoryName(p)!);
        File.WriteAllText(p, json);
        return p;
    }

    private Func<string, string?> Env(Dictionary<string, string> vars) => k => vars.TryGetValue(k, out var v) ? v : null;

    [Fact]
    public void The_default_search_order_is_that_of_containers_auth_json()
    {
        var env = Env(new() { ["HOME"] = _dir + "/home", ["XDG_RUNTIME_DIR"] = _dir + "/run" });
        var store = CredentialStore.Default(null, AuthFileSearch.Containers, env);
        Assert.Equal(
            [_dir + "/run/containers/auth.json", _dir + "/home/.config/containers/auth.json", _dir + "/home/.docker/config.json", _dir + "/home/.dockercfg"],
            store.Files);
        Assert.Equal(["/tmp/x.json"], CredentialStore.Default(null, AuthFileSearch.Containers, Env(new() { ["HOME"] = "/h", ["REGISTRY_AUTH_FILE"] = "/tmp/x.json" })).Files);
        Assert.Equal(["/given.json"], CredentialStore.Default("/given.json", AuthFileSearch.Containers, env).Files);
    }

    [Fact]
    public void The_first_file_with_an_entry_wins_and_specific_keys_beat_hosts()
    {
        var env = Env(new() { ["HOME"] = _dir + "/home", ["XDG_RUNTIME_DIR"] = _dir + "/run" });
        Write("run/containers/auth.json", "{\"auths\":{\"quay.io/org/img\":{\"auth\":\"" + Auth("img", "1") + "\"},\"quay.io/org\":{\"auth\":\"" + Auth("org", "2") + "\"},\"quay.io\":{\"auth\":\"" + Auth("host", "3") + "\"}}}");
        Write("home/.docker/config.json", "{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"" + Auth("hub", "4") + "\"},\"quay.io\":{\"auth\":\"" + Auth("late", "5") + "\"},\"ghcr.io\":{\"auth\":\"" + Auth("gh", "pa:ss") + "\"}}}");
        var store = CredentialStore.Default(null, AuthFileSearch.Containers, env);
        Assert.Equal("img", store.Lookup("quay.io", "org/img")!.Username);
        Assert.Equal("org", store.Lookup("quay.io", "org/other")!.Username);
        Assert.Equal("host", store.Lookup("quay.io", "else/x")!.Username);
        Assert.Equal("hub", store.Lookup("docker.io", "library/alpine")!.Username);
        Assert.Equal(new RegistryCredential("gh", "pa:ss"), store.Lookup("ghcr.io", "a/b"));
        Assert.Null(store.Lookup("example.com", "a"));
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void Credential_helpers_are_run_with_the_registry_on_stdin()
    {
        var bin = Path.Combine(_dir, "bin");
        Directory.CreateDirectory(bin);
        var helper = Path.Combine(bin, "docker-credential-fake");
        File.WriteAllText(helper, "#!/bin/sh\nread host\nif [ \"$host\" = reg.example ]; then echo '{\"ServerURL\":\"reg.example\",\"Username\":\"helper-user\",\"Secret\":\"s3cret\"}'; else echo 'credentials not found in native keychain'; exit 1; fi\n");
        File.SetUnixFileMode(helper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var file = Write("cfg.json", """{"credHelpers":{"reg.example":"fake"},"credsStore":"fake"}""");
        var store = new CredentialStore([file], Env(new() { ["PATH"] = bin }));
        Assert.Equal(new RegistryCredential("helper-user", "s3cret"), store.Lookup("reg.example", "x/y"));
        Assert.Null(store.Lookup("other.example", "x/y"));

        var missing = new CredentialStore([Write("cfg2.json", """{"credHelpers":{"reg.example":"absent"}}""")], Env(new() { ["PATH"] = bin }));
        var absent = Assert.Throws<ContainerException>(() => missing.Lookup("reg.example", null));
        Assert.Equal(OstreeErrorCode.ExternalCommandFailed, absent.ErrorCode);
        Assert.Contains("docker-credential-absent", absent.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Ostree_search_uses_only_the_first_existing_file()
    {
        var env = Env(new() { ["HOME"] = _dir + "/home", ["XDG_RUNTIME_DIR"] = _dir + "/run", ["XDG_CONFIG_HOME"] = _dir + "/cfg" });
        Write("cfg/ostree/auth.json", "{\"auths\":{\"quay.io\":{\"auth\":\"" + Auth("o", "p") + "\"}}}");
        var store = CredentialStore.Default(null, AuthFileSearch.Ostree, env, isRoot: false);
        Assert.Equal([_dir + "/cfg/ostree/auth.json"], store.Files);
        Assert.Equal("o", store.Lookup("quay.io", "x")!.Username);
        Assert.Empty(CredentialStore.Default(null, AuthFileSearch.Ostree, Env(new() { ["HOME"] = "/nonexistent" }), isRoot: false).Files);
    }

    [Fact]
    public void Malformed_auth_files_name_the_file()
    {
        var file = Write("bad.json", "{not json");
        var e = Assert.Throws<ContainerException>(() => new CredentialStore([file]).Lookup("x", null));
        Assert.Equal(OstreeErrorCode.RegistryConfigInvalid, e.ErrorCode);
        Assert.Contains(file, e.Message, StringComparison.Ordinal);
        var notB64 = Write("bad2.json", """{"auths":{"x":{"auth":"%%%"}}}""");
        var b64 = Assert.Throws<ContainerException>(() => new CredentialStore([notB64]).Lookup("x", null));
        Assert.Equal(OstreeErrorCode.RegistryConfigInvalid, b64.ErrorCode);
        Assert.Contains(notB64, b64.Message, StringComparison.Ordinal);

        // A member of another JSON kind than the string it should be is a malformed file, not a crash.
        foreach (var (json, what) in new[] { ("""{"auths":{"x":{"auth":7}}}""", "x.auth"), ("""{"auths":{"x":{"identitytoken":[]}}}""", "x.identitytoken"), ("""{"credHelpers":{"x":{}}}""", "credHelpers.x"), ("""{"credsStore":true}""", "credsStore") })
        {
            var odd = Write("odd.json", json);
            var e2 = Assert.Throws<ContainerException>(() => new CredentialStore([odd]).Lookup("x", null));
            Assert.Equal(OstreeErrorCode.RegistryConfigInvalid, e2.ErrorCode);
            Assert.Equal($"Malformed auth file {odd}: {what} is not a string", e2.Message);
        }
    }

    [Fact]
    public void Creds_option_splits_at_the_first_colon()
    {
        Assert.Equal(new RegistryCredential("u", "p:q"), RegistryCredential.ParseCreds("u:p:q"));
        Assert.Equal(new RegistryCredential("u", string.Empty), RegistryCredential.ParseCreds("u"));
        Assert.Throws<ArgumentException>(() => RegistryCredential.ParseCreds(":p"));
        Assert.DoesNotContain("p:q", new RegistryCredential("u", "p:q").ToString(), StringComparison.Ordinal);
    }
}
