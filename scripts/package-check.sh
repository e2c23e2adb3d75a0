#!/usr/bin/env bash
# The packages as users get them: packs the libraries and the CLI (.NET tool) into a local feed, checks what each
# package holds, installs the tool from the feed and runs the demo with it, then builds and runs the Embed sample
# against the library packages. Restores go to a package folder of its own, so nothing cached from an earlier run (the
# same version number, other bytes) is used.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export NUGET_PACKAGES="$work/packages"
fail() { echo "package-check: $*" >&2; exit 1; }

version=$(dotnet msbuild src/OstreeSharp/OstreeSharp.csproj -getProperty:Version -nologo)
commit=$(git rev-parse HEAD 2>/dev/null || true)
dotnet pack OstreeSharp.slnx -c Release -o "$work/feed" -v quiet -nologo
for id in OstreeSharp OstreeSharp.Containers OstreeSharp.Server ostree-sharp; do
    pkg="$work/feed/$id.$version.nupkg"
    [ -f "$pkg" ] || fail "no package $id $version"
    [ -f "${pkg%.nupkg}.snupkg" ] || fail "$id: no symbol package"
    files=$(unzip -Z1 "$pkg")
    for f in README.md LICENSE; do
        grep -qx "$f" <<<"$files" || fail "$id: no $f in the package"
    done
    nuspec=$(unzip -p "$pkg" "$id.nuspec")
    grep -q '<license type="expression">MIT</license>' <<<"$nuspec" || fail "$id: no license expression"
    grep -q '<readme>README.md</readme>' <<<"$nuspec" || fail "$id: no readme"
    if [ -n "$commit" ]; then
        grep -q "<repository type=\"git\" commit=\"$commit\"" <<<"$nuspec" || fail "$id: the package does not name commit $commit"
    fi
    if [ "$id" != OstreeSharp ] && [ "$id" != ostree-sharp ]; then
        # They use the core's internals: only the core package of the same build will do.
        grep -q "<dependency id=\"OstreeSharp\" version=\"\[$version\]\"" <<<"$nuspec" || fail "$id: does not depend on exactly OstreeSharp $version"
    fi
    if [ "$id" = ostree-sharp ]; then
        grep -qx 'tools/net10.0/any/DotnetToolSettings.xml' <<<"$files" || fail "$id: not a .NET tool"
    else
        grep -qx "lib/net10.0/$id.dll" <<<"$files" || fail "$id: no lib/net10.0/$id.dll"
        grep -qx "lib/net10.0/$id.xml" <<<"$files" || fail "$id: no XML documentation"
    fi
done
echo "package-check: packed OstreeSharp, OstreeSharp.Containers, OstreeSharp.Server and the ostree-sharp tool $version, with symbols"

dotnet tool install ostree-sharp --version "$version" --tool-path "$work/tool" --add-source "$work/feed" >/dev/null
"$work/tool/ostree-sharp" --version | grep -q "^ Version: '$version[+']" || fail "the installed tool does not report version $version"
demo=$("$work/tool/ostree-sharp" demo) || { echo "$demo"; fail "the demo failed with the installed tool"; }
grep -q '^done in ' <<<"$demo" || { echo "$demo"; fail "the demo did not finish"; }
echo "package-check: the tool installed from the feed ran the demo ($(tail -1 <<<"$demo"))"

sample=$(dotnet run --project samples/Embed -c Release -p:OstreeSharpVersion="$version" -p:RestoreAdditionalProjectSources="$work/feed" \
    -p:BaseIntermediateOutputPath="$work/sample-obj/" -p:BaseOutputPath="$work/sample-bin/" -- "$work/sample") \
    || { echo "$sample"; fail "the Embed sample failed"; }
grep -q '^checked it out at .*: identical to the commit$' <<<"$sample" || { echo "$sample"; fail "the Embed sample did not finish"; }
[ -d "$work/packages/ostreesharp/$version" ] || fail "the sample was not built against the OstreeSharp $version package"
echo "package-check: the Embed sample built against the packages and ran (commit, sign, encapsulate, pull, fsck, checkout)"
