using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace OstreeSharp.Containers.Registry;

/// <summary>A user name and password (or an identity token) for one registry.</summary>
public sealed record RegistryCredential(string Username, string Password, string? IdentityToken = null)
{
    /// <summary>Parses <c>USER[:PASSWORD]</c> as given to <c>--creds</c>.</summary>
    public static RegistryCredential ParseCreds(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int colon = text.IndexOf(':', StringComparison.Ordinal);
        var user = colon < 0 ? text : text[..colon];
        if (user.Length == 0)
        {
            throw new ArgumentException("the user name is empty", nameof(text));
        }

        return new RegistryCredential(user, colon < 0 ? string.Empty : text[(colon + 1)..]);
    }

    /// <inheritdoc/>
    public override string ToString() => Username + ":<redacted>";
}

/// <summary>Which auth files are consulted when none is given.</summary>
public enum AuthFileSearch
{
    /// <summary>As the containers tools (skopeo, podman) do: REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, ~/.config/containers/auth.json, ~/.docker/config.json, ~/.dockercfg.</summary>
    Containers,

    /// <summary>As ostree-ext does for image pulls: /run, /etc, /usr/lib ostree/auth.json for root, $XDG_RUNTIME_DIR and $XDG_CONFIG_HOME ostree/auth.json otherwise; no hit means anonymous.</summary>
    Ostree,
}

/// <summary>
/// Finds credentials the way containers-auth.json(5) describes: the first auth file that has an entry
/// for the registry wins; within a file a credential helper for the registry comes first, then the
/// most specific <c>auths</c> key (<c>host/ns/repo</c>, ..., <c>host</c>).
/// </summary>
public sealed class CredentialStore
{
    private readonly List<string> _files;
    private readonly Func<string, string?> _env;

    /// <summary>Creates a store over explicit files (tests and embedders).</summary>
    public CredentialStore(IEnumerable<string> files, Func<string, string?>? environment = null)
    {
        _files = [.. files];
        _env = environment ?? Environment.GetEnvironmentVariable;
    }

    /// <summary>The files consulted, in order.</summary>
    public IReadOnlyList<string> Files => _files;

    /// <summary>The default search, with <paramref name="authFile"/> (from <c>--authfile</c>) in front when given.</summary>
    public static CredentialStore Default(string? authFile, AuthFileSearch search = AuthFileSearch.Containers, Func<string, string?>? environment = null, bool? isRoot = null)
    {
        var env = environment ?? Environment.GetEnvironmentVariable;
        var home = env("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        var files = new List<string>();
        if (search == AuthFileSearch.Ostree)
        {
            if (authFile is not null)
            {
                files.Add(authFile);
            }
            else if (isRoot ?? Environment.UserName == "root")
            {
                files.AddRange(["/run/ostree/auth.json", "/etc/ostree/auth.json", "/usr/lib/ostree/auth.json"]);
            }
            else
            {
                if (env("XDG_RUNTIME_DIR") is { Length: > 0 } rt)
                {
                    files.Add(Path.Combine(rt, "ostree", "auth.json"));
                }

                files.Add(Path.Combine(env("XDG_CONFIG_HOME") is { Length: > 0 } c ? c : Path.Combine(home, ".config"), "ostree", "auth.json"));
            }

            // First file that exists is the only one used.
            var first = files.FirstOrDefault(File.Exists);
            return new CredentialStore(first is null ? [] : [first], env);
        }

        var userSpecified = authFile ?? (env("REGISTRY_AUTH_FILE") is { Length: > 0 } raf ? raf : null);
        if (userSpecified is not null)
        {
            files.Add(userSpecified);
            return new CredentialStore(files, env);
        }

        if (env("XDG_RUNTIME_DIR") is { Length: > 0 } runtime)
        {
            files.Add(Path.Combine(runtime, "containers", "auth.json"));
        }
        else
        {
            files.Add($"/run/containers/{(isRoot ?? Environment.UserName == "root" ? 0 : -1)}/auth.json");
        }

        files.Add(Path.Combine(env("XDG_CONFIG_HOME") is { Length: > 0 } cfg ? cfg : Path.Combine(home, ".config"), "containers", "auth.json"));
        files.Add(env("DOCKER_CONFIG") is { Length: > 0 } dc ? Path.Combine(dc, "config.json") : Path.Combine(home, ".docker", "config.json"));
        files.Add(Path.Combine(home, ".dockercfg"));
        return new CredentialStore(files, env);
    }

    /// <summary>Credentials for <paramref name="domain"/> and repository <paramref name="path"/>, or null.</summary>
    /// <exception cref="ContainerException">An auth file is malformed or a credential helper failed.</exception>
    public RegistryCredential? Lookup(string domain, string? path)
    {
        ArgumentNullException.ThrowIfNull(domain);
        foreach (var file in _files)
        {
            if (!File.Exists(file))
            {
                continue;
            }

            var found = LookupInFile(file, domain, path);
            if (found is not null)
            {
                return found;
            }
        }

        return null;
    }

    private RegistryCredential? LookupInFile(string file, string domain, string? path)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(file));
        }
        catch (JsonException e)
        {
            throw new ContainerException(OstreeErrorCode.RegistryConfigInvalid, $"Malformed auth file {file}: {e.Message}");
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new ContainerException(OstreeErrorCode.RegistryConfigInvalid, $"Malformed auth file {file}: not a JSON object");
            }

            bool legacy = Path.GetFileName(file) == ".dockercfg";
            if (!legacy && root.TryGetProperty("credHelpers", out var helpers) && helpers.ValueKind == JsonValueKind.Object)
            {
                foreach (var key in Candidates(domain, path))
                {
                    if (helpers.TryGetProperty(key, out var h) && Text(h, file, "credHelpers." + key) is { Length: > 0 } helper)
                    {
                        return RunHelper(helper, domain, file);
                    }
                }
            }

            var auths = legacy ? root : root.TryGetProperty("auths", out var a) && a.ValueKind == JsonValueKind.Object ? a : default;
            if (auths.ValueKind == JsonValueKind.Object)
            {
                var byKey = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
                foreach (var p in auths.EnumerateObject())
                {
                    byKey.TryAdd(NormalizeKey(p.Name), p.Value);
                }

                foreach (var key in Candidates(domain, path))
                {
                    if (byKey.TryGetValue(key, out var entry))
                    {
                        return Decode(entry, file, key);
                    }
                }
            }

            if (!legacy && root.TryGetProperty("credsStore", out var store) && Text(store, file, "credsStore") is { Length: > 0 } storeHelper)
            {
                return RunHelper(storeHelper, domain, file, optional: true);
            }
        }

        return null;
    }

    // A string member of an auth file; any other JSON kind is a malformed file (System.Text.Json would throw
    // InvalidOperationException, which the CLI reports as a bug).
    private static string? Text(JsonElement value, string file, string what) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Null => null,
        _ => throw new ContainerException(OstreeErrorCode.RegistryConfigInvalid, $"Malformed auth file {file}: {what} is not a string"),
    };

    private static IEnumerable<string> Candidates(string domain, string? path)
    {
        if (!string.IsNullOrEmpty(path))
        {
            var parts = path.Split('/');
            for (int n = parts.Length; n >= 1; n--)
            {
                yield return domain + "/" + string.Join('/', parts.Take(n));
            }
        }

        yield return domain;
    }

    private static string NormalizeKey(string key)
    {
        var k = key;
        if (k.StartsWith("https://", StringComparison.Ordinal) || k.StartsWith("http://", StringComparison.Ordinal))
        {
            k = k[(k.IndexOf("//", StringComparison.Ordinal) + 2)..];
            int slash = k.IndexOf('/', StringComparison.Ordinal);
            if (slash >= 0)
            {
                k = k[..slash]; // legacy keys are URLs: only the host counts
            }
        }

        k = k.TrimEnd('/');
        return k is "index.docker.io" or "registry-1.docker.io" ? "docker.io" : k;
    }

    private static RegistryCredential? Decode(JsonElement entry, string file, string key)
    {
        if (entry.ValueKind != JsonValueKind.Object)
        {
            throw new ContainerException(OstreeErrorCode.RegistryConfigInvalid, $"Malformed auth file {file}: entry {key} is not an object");
        }

        string? token = entry.TryGetProperty("identitytoken", out var it) ? Text(it, file, key + ".identitytoken") : null;
        if (entry.TryGetProperty("auth", out var auth) && Text(auth, file, key + ".auth") is { Length: > 0 } b64)
        {
            string decoded;
            try
            {
                decoded = Encoding.UTF8.GetString(Convert.FromBase64String(b64));
            }
            catch (FormatException)
            {
                throw new ContainerException(OstreeErrorCode.RegistryConfigInvalid, $"Malformed auth file {file}: the auth of {key} is not base64");
            }

            int colon = decoded.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                throw new ContainerException(OstreeErrorCode.RegistryConfigInvalid, $"Malformed auth file {file}: the auth of {key} is not USER:PASSWORD");
            }

            return new RegistryCredential(decoded[..colon], decoded[(colon + 1)..], string.IsNullOrEmpty(token) ? null : token);
        }

        return string.IsNullOrEmpty(token) ? null : new RegistryCredential(string.Empty, string.Empty, token);
    }

    private RegistryCredential? RunHelper(string helper, string domain, string file, bool optional = false)
    {
        var exe = "docker-credential-" + helper;
        var resolved = (_env("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries).Select(d => Path.Combine(d, exe)).FirstOrDefault(File.Exists);
        if (resolved is null)
        {
            if (optional)
            {
                return null;
            }

            throw new ContainerException(OstreeErrorCode.ExternalCommandFailed, $"Credential helper {exe} named in {file} for {domain} is not on PATH");
        }

        var psi = new ProcessStartInfo(resolved, "get")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (_env("PATH") is { } p)
        {
            psi.Environment["PATH"] = p;
        }

        Process proc;
        try
        {
            proc = Process.Start(psi) ?? throw new ContainerException(OstreeErrorCode.ExternalCommandFailed, $"Could not start credential helper {exe}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            if (optional)
            {
                return null;
            }

            throw new ContainerException(OstreeErrorCode.ExternalCommandFailed, $"Credential helper {exe} named in {file} for {domain} could not be run: {e.Message}");
        }

        using (proc)
        {
            proc.StandardInput.Write(domain);
            proc.StandardInput.Close();
            var stdout = proc.StandardOutput.ReadToEnd();
            var stderr = proc.StandardError.ReadToEnd();
            proc.WaitForExit();
            if (proc.ExitCode != 0)
            {
                if (stdout.Contains("credentials not found", StringComparison.OrdinalIgnoreCase) || stderr.Contains("credentials not found", StringComparison.OrdinalIgnoreCase))
                {
                    return null;
                }

                throw new ContainerException(OstreeErrorCode.ExternalCommandFailed, $"Credential helper {exe} failed for {domain}: {(stderr.Length > 0 ? stderr : stdout).Trim()}");
            }

            try
            {
                using var doc = JsonDocument.Parse(stdout);
                var user = doc.RootElement.GetProperty("Username").GetString() ?? string.Empty;
                var secret = doc.RootElement.GetProperty("Secret").GetString() ?? string.Empty;
                return user == "<token>" ? new RegistryCredential(string.Empty, string.Empty, secret) : new RegistryCredential(user, secret);
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                throw new ContainerException(OstreeErrorCode.ExternalCommandFailed, $"Credential helper {exe} gave malformed output for {domain}: {e.Message}");
            }
        }
    }
}
