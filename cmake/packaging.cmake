# Debian packages with CPack's DEB generator, from the release build (scripts/package.sh runs
# `cpack` in build/): one package per install component, their library dependencies computed
# by dpkg-shlibdeps, maintainer scripts and the Debian doc files from packaging/deb/.
#   agent  -> cardvault         the CLI and agent, the user unit, man pages, completion, docs
#   tray   -> cardvault-tray    the tray icon and its autostart entry
#   server -> cardvault-server  the server, its hardened system unit, its config in /etc
set(cv_deb ${PROJECT_SOURCE_DIR}/packaging/deb)

# cpack installs from the build as it is (scripts/package.sh builds the packaged targets):
# no "preinstall" build of everything, tests and benchmarks included.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME cardvault)
set(CPACK_PACKAGE_VENDOR "cardvault")
set(CPACK_PACKAGE_CONTACT "cardvault maintainers <maintainers@users.noreply.r-seed-0d40bde9.example>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL agent server)
if(TARGET cardvault-tray)
  list(APPEND CPACK_COMPONENTS_ALL tray)
endif()
# Installed as into /usr (/etc for the configuration: config/CMakeLists.txt), under DESTDIR.
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_SET_DESTDIR ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Man pages and changelogs gzipped, copyright and changelog.Debian in each /usr/share/doc/PKG.
set(CPACK_PRE_BUILD_SCRIPTS ${PROJECT_SOURCE_DIR}/cmake/deb_docs.cmake)
set(CPACK_CARDVAULT_DEB_DIR ${cv_deb})

set(cv_version "${PROJECT_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE}")

set(CPACK_DEBIAN_AGENT_PACKAGE_NAME cardvault)
set(CPACK_DEBIAN_AGENT_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_AGENT_PACKAGE_RECOMMENDS "p11-kit, opensc-pkcs11, pinentry-curses | pinentry")
set(CPACK_DEBIAN_AGENT_PACKAGE_SUGGESTS "cardvault-tray")
set(CPACK_DEBIAN_AGENT_DESCRIPTION "encrypted folder sync with keys on a smartcard
cardvault watches a folder of secrets (keys, tokens, certificates), encrypts
each file with a fresh AES-256 key wrapped to a key that never leaves a
smartcard (PKCS#11), and uploads the ciphertext to a cardvault-server over
pinned TLS. Another PC with the same card restores the folder.
.
This package holds the cardvault command (CLI and agent) and its systemd user
unit, cardvault-agent.service.")

set(CPACK_DEBIAN_TRAY_PACKAGE_NAME cardvault-tray)
set(CPACK_DEBIAN_TRAY_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_TRAY_PACKAGE_DEPENDS "cardvault (= ${cv_version})")
set(CPACK_DEBIAN_TRAY_PACKAGE_CONTROL_EXTRA ${cv_deb}/tray/conffiles)
set(CPACK_DEBIAN_TRAY_DESCRIPTION "tray icon for the cardvault agent
Shows whether the cardvault agent is up to date, syncing, paused or in error,
and offers pause, resume and sync now. It talks to the running agent only
and never asks for a PIN. Started at login by an XDG autostart entry.")

set(CPACK_DEBIAN_SERVER_PACKAGE_NAME cardvault-server)
set(CPACK_DEBIAN_SERVER_PACKAGE_SECTION net)
set(CPACK_DEBIAN_SERVER_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_EXTRA
    ${cv_deb}/server/conffiles ${cv_deb}/server/postinst ${cv_deb}/server/prerm
    ${cv_deb}/server/postrm)
set(CPACK_DEBIAN_SERVER_DESCRIPTION "storage server for cardvault (encrypted blobs over HTTPS)
The server cardvault agents upload to: users, device tokens, per-user objects
and quotas, create-only streaming uploads checked by SHA-256, TLS 1.2+ with
AEAD suites only. It stores ciphertext and never sees names or contents.
.
It runs as the system user cardvault under a hardened systemd unit
(cardvault-server.service, Type=notify; reload renews the certificate), with
its data in /var/lib/cardvault-server and its config in /etc/cardvault-server.")

include(CPack)
