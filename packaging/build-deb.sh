#!/bin/sh
# build-deb.sh: builds the flowd Debian package from a release build.
#   packaging/build-deb.sh [OUTPUT_DIR]      (default .build/deb; make deb runs it)
# The Swift runtime and Foundation are linked statically (--static-swift-stdlib), so
# the package needs no Swift toolchain; the C libraries come from Debian and
# dpkg-shlibdeps computes their Depends. Man pages are built from packaging/man/*.scd
# with scdoc. Prints the path of the .deb last. Fails (set -e) on any missing tool,
# build error or an unexpected shared library.
set -eu
cd "$(dirname "$0")/.."
out="${1:-.build/deb}"
swift="${SWIFT:-swift}"

for tool in scdoc dpkg-deb dpkg-shlibdeps strip gzip; do
    command -v "$tool" >/dev/null || { echo "build-deb: $tool is missing (make deb-deps installs it)" >&2; exit 1; }
done

# Full RELRO (-z relro -z now), as Debian's hardening flags ask of every binary.
# libcurl (http steps) is not linked: flowd loads it with dlopen on the first http step,
# so dpkg-shlibdeps cannot see it and control.in names libcurl4 itself.
release="-c release --static-swift-stdlib -Xlinker -z -Xlinker relro -Xlinker -z -Xlinker now"
# shellcheck disable=SC2086
"$swift" build $release --product flowd >&2
# shellcheck disable=SC2086
"$swift" build $release --product flowadm >&2
# shellcheck disable=SC2086
bin="$("$swift" build $release --show-bin-path)"
version="$("$bin/flowd" --version | sed -n 's/^flowd //p')"
[ -n "$version" ] || { echo "build-deb: cannot read the version from $bin/flowd --version" >&2; exit 1; }
changelog_version="$(sed -n '1s/^flowd (\([^)]*\)).*/\1/p' packaging/debian/changelog)"
[ "$version" = "$changelog_version" ] || {
    echo "build-deb: flowd --version says $version but packaging/debian/changelog says $changelog_version" >&2; exit 1; }
arch="$(dpkg --print-architecture)"
stage="$out/flowd_${version}_${arch}"
rm -rf "$stage"
mkdir -p "$out"

# Files, with their modes; owners are root:root (dpkg-deb --root-owner-group).
install -D -m 0755 "$bin/flowd" "$stage/usr/sbin/flowd"
install -D -m 0755 "$bin/flowadm" "$stage/usr/bin/flowadm"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$stage/usr/sbin/flowd" "$stage/usr/bin/flowadm"
install -D -m 0644 etc/flowd/flowd.yaml "$stage/etc/flowd/flowd.yaml"
install -d -m 0755 "$stage/etc/flowd/workflows" "$stage/etc/flowd/connectors"
install -D -m 0644 packaging/flowd.service "$stage/lib/systemd/system/flowd.service"
install -D -m 0644 packaging/flowd.socket "$stage/lib/systemd/system/flowd.socket"
install -D -m 0644 packaging/flowd.sysusers "$stage/usr/lib/sysusers.d/flowd.conf"
install -D -m 0644 packaging/flowd.tmpfiles "$stage/usr/lib/tmpfiles.d/flowd.conf"
install -D -m 0644 packaging/flowd.catalog "$stage/usr/lib/systemd/catalog/flowd.catalog"
for page in packaging/man/*.scd; do
    name="$(basename "$page" .scd)"
    section="${name##*.}"
    install -d -m 0755 "$stage/usr/share/man/man$section"
    scdoc < "$page" | gzip -9n > "$stage/usr/share/man/man$section/$name.gz"
    chmod 0644 "$stage/usr/share/man/man$section/$name.gz"
done
doc="$stage/usr/share/doc/flowd"
install -D -m 0644 packaging/debian/copyright "$doc/copyright"
gzip -9n < packaging/debian/changelog > "$doc/changelog.gz"
install -m 0644 README.md "$doc/README.md"
install -m 0644 docs/SYSTEMD.md docs/CONTROL.md docs/CONNECTORS.md "$doc/"
install -d -m 0755 "$doc/examples/workflows"
install -m 0644 etc/flowd/workflows/*.yaml "$doc/examples/workflows/"
install -m 0644 packaging/single-user.conf "$doc/examples/single-user.conf"
# The built-in connector manifests (an admin's /etc/flowd/connectors/NAME.yaml overrides).
install -d -m 0755 "$stage/usr/share/flowd/connectors"
install -m 0644 etc/flowd/connectors/*.yaml "$stage/usr/share/flowd/connectors/"
chmod 0644 "$doc/changelog.gz"
install -D -m 0644 packaging/debian/lintian-overrides "$stage/usr/share/lintian/overrides/flowd"

# Control files.
install -d -m 0755 "$stage/DEBIAN"
install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$stage/DEBIAN/"
install -m 0644 packaging/debian/conffiles "$stage/DEBIAN/conffiles"
shlibs_dir="$out/shlibs"
rm -rf "$shlibs_dir"
mkdir -p "$shlibs_dir/debian"
printf 'Source: flowd\n\nPackage: flowd\nArchitecture: any\n' > "$shlibs_dir/debian/control"
stage_absolute="$(cd "$stage" && pwd)"
shlibs="$(cd "$shlibs_dir" && dpkg-shlibdeps -O -e"$stage_absolute/usr/sbin/flowd" -e"$stage_absolute/usr/bin/flowadm" 2>/dev/null \
    | sed -n 's/^shlibs:Depends=//p')"
[ -n "$shlibs" ] || { echo "build-deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
case "$shlibs" in *swift*|*Foundation*|*dispatch*)
    echo "build-deb: the binaries link a Swift runtime library dynamically: $shlibs" >&2; exit 1 ;;
esac
installed_size="$(du -sk --exclude=DEBIAN "$stage" | cut -f1)"
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@INSTALLED_SIZE@/$installed_size/" \
    -e "s/@SHLIBS_DEPENDS@/$shlibs/" packaging/debian/control.in > "$stage/DEBIAN/control"
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | LC_ALL=C sort | xargs md5sum) \
    > "$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/md5sums" "$stage/DEBIAN/control"

deb="$out/flowd_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >&2
echo "$deb"
