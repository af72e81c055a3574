/**
 * The web server of mailbox nodes (nginx + php-fpm: grommunio-web, -sync, -dav; proxy to gromox-http).
 */
export * from "./render";
