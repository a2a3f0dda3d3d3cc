/* TiniLinux's build options for Dropbear, read after upstream's default_options.h (see
 * upstream's INSTALL): only what differs from Dropbear's defaults.
 *
 * Root logs in with a key only: the password method is not compiled into the server at all
 * (nor PAM, off by default), so no password, empty or set, opens a session over SSH. */
#define DROPBEAR_SVR_PASSWORD_AUTH 0

/* No sftp-server program on TiniLinux (scp works: /usr/bin/scp is Dropbear's). */
#define DROPBEAR_SFTPSERVER 0

/* FIDO/U2F security-key types (sk-*) need a hardware token on the client; left out. */
#define DROPBEAR_SK_KEYS 0

/* Host keys: rcS makes an Ed25519 key at first boot; the file names are Dropbear's. */

/* The PATH of an SSH session: where TiniLinux keeps its programs (tinibox is /usr/bin). */
#define DEFAULT_PATH "/usr/bin:/bin"
#define DEFAULT_ROOT_PATH "/usr/sbin:/usr/bin:/sbin:/bin"
