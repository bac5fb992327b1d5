#!/bin/sh
echo "I am not executable"
